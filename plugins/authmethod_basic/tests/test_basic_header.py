"""The basic method on its own: an Authorization: Basic header from two settings."""

import base64

import pytest
import requests
from jomreskit_authmethod_basic import BasicAuth

from jomreskit import ValidationError


def test_the_username_and_password_go_in_an_authorization_header():
    method = BasicAuth()
    values = method.clean_settings({"username": "basil", "password": "fawlty"})
    request = requests.Request("POST", "https://remote.example/hook", data=b"{}").prepare()
    method.authenticate(request, values, requests.Session())
    scheme, encoded = request.headers["Authorization"].split()
    assert (scheme, base64.b64decode(encoded)) == ("Basic", b"basil:fawlty")


def test_both_settings_are_required_and_the_password_is_secret():
    with pytest.raises(ValidationError, match="password"):
        BasicAuth().clean_settings({"username": "basil"})
    assert [f.key for f in BasicAuth.fields if f.secret] == ["password"]
