"""The partner key on a signed delivery, and the plugin on a real site."""

import pytest
from jomreskit_authmethod_homeaway import HomeAwayPartnerKey
from jomreskit_webhooks_core.testing import TEST_SECRET, authenticate
from standardwebhooks import Webhook

from jomreskit import ValidationError

SETTINGS = {"advertiser_id": "A-1234", "api_key": "k-99"}


def test_a_delivery_carries_the_partner_key_and_stays_signed():
    request = authenticate(HomeAwayPartnerKey(), {**SETTINGS, "sandbox": "yes"})

    assert request.headers["X-HomeAway-Advertiser-Id"] == "A-1234"
    assert request.headers["Authorization"] == "HomeAway-Key k-99"
    assert request.headers["X-HomeAway-Environment"] == "sandbox"
    assert Webhook(TEST_SECRET).verify(request.body, dict(request.headers))["type"]


def test_production_is_the_default_and_the_key_is_required():
    assert "X-HomeAway-Environment" not in authenticate(HomeAwayPartnerKey(), SETTINGS).headers
    with pytest.raises(ValidationError, match="api_key"):
        authenticate(HomeAwayPartnerKey(), {"advertiser_id": "A-1234"})


def test_a_site_offers_it_beside_the_built_in_methods(site):
    assert site.kit.authmethods["homeaway"].label == "HomeAway-style partner key"
