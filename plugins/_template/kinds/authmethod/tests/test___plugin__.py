"""The __plugin__ auth method on a signed delivery, and on a real site."""

import json

import pytest
from jomreskit___plugin__ import PartnerToken
from jomreskit_webhooks_core.testing import TEST_SECRET, authenticate
from standardwebhooks import Webhook

from jomreskit import ValidationError


def test_a_delivery_carries_the_token_and_stays_signed():
    request = authenticate(PartnerToken(), {"token": "t-99", "sandbox": "yes"})

    assert request.headers["X-Partner-Token"] == "t-99"
    assert request.headers["X-Partner-Environment"] == "sandbox"
    assert Webhook(TEST_SECRET).verify(request.body, dict(request.headers))["type"]


def test_the_token_is_required():
    with pytest.raises(ValidationError, match="token"):
        authenticate(PartnerToken(), {})


def test_a_webhook_uses_it_and_never_shows_the_token_back(site):
    made = site.cli("webhooks", "create", "--manager", "manager", "--url",
                    "https://partner.example/hooks", "--authmethod", "__plugin__",
                    "--setting", "token=t-99", "--json")

    assert made.exit_code == 0, made.output
    listed = json.loads(site.cli("webhooks", "list", "--json").output)
    assert listed[0]["authmethod"] == "__plugin__"
    assert "t-99" not in json.dumps(listed)
