"""The none method on its own: nothing is added, and it takes no settings."""

import pytest
import requests
from jomreskit_authmethod_none import NoAuth

from jomreskit import ValidationError


def test_nothing_is_added_to_the_request():
    request = requests.Request("POST", "https://remote.example/hook", data=b"{}").prepare()
    before = dict(request.headers)
    NoAuth().authenticate(request, {}, requests.Session())
    assert dict(request.headers) == before


def test_it_takes_no_settings():
    assert NoAuth().clean_settings({}) == {}
    with pytest.raises(ValidationError, match="takes none"):
        NoAuth().clean_settings({"username": "basil"})
