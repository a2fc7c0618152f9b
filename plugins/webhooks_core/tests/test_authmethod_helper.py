"""jomreskit_webhooks_core.testing.authenticate: an auth method's test needs no site."""

import json

import pytest
import requests
from jomreskit_webhooks_core.testing import TEST_SECRET, authenticate
from standardwebhooks import Webhook

from jomreskit import AuthMethod, SettingField, ValidationError


class PartnerToken(AuthMethod):
    name = "partner_token"
    label = "Partner token"
    fields = (SettingField("token", "Token", required=True, secret=True),
              SettingField("sandbox", "Sandbox", format="boolean"))

    def authenticate(self, request, settings, http):
        request.headers["X-Partner-Token"] = settings["token"]
        request.headers["X-Sandbox"] = str(settings["sandbox"])  # cleaned: a bool
        request.headers["X-Body-Length"] = str(len(request.body))


def test_the_method_gets_a_signed_delivery_and_its_headers_are_returned():
    request = authenticate(PartnerToken(), {"token": "t-1", "sandbox": "yes"},
                           url="https://partner.example/hooks", event="guest_saved",
                           ids={"property_uid": 2, "guest_uid": 9})

    assert (request.method, request.url) == ("POST", "https://partner.example/hooks")
    assert isinstance(request.body, bytes)
    assert request.headers["X-Partner-Token"] == "t-1"
    assert request.headers["X-Sandbox"] == "True"
    assert request.headers["X-Body-Length"] == str(len(request.body))
    notification = Webhook(TEST_SECRET).verify(request.body, dict(request.headers))
    assert notification["type"] == "guest_saved"
    assert notification["data"] == {"property_uid": 2, "guest_uid": 9, "manager_id": 1,
                                    "task": "guest_saved"}
    assert json.loads(request.body) == notification


def test_settings_are_checked_as_webhooks_core_checks_them():
    with pytest.raises(ValidationError, match="needs the setting token"):
        authenticate(PartnerToken(), {})


def test_a_given_http_session_is_the_one_the_method_gets():
    seen = []

    class Fetching(PartnerToken):
        def authenticate(self, request, settings, http):
            seen.append(http)

    with requests.Session() as http:
        authenticate(Fetching(), {"token": "t"}, http=http)
        assert seen == [http]
