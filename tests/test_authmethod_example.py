"""examples/plugins/authmethod_homeaway.py: a third party's auth method, dropped into the
plugins folder, is offered next to the built-in ones and adds its headers to a delivery."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests

from jomreskit import ValidationError, create_app, get_kit
from jomreskit.testing import Site

EXAMPLE = Path(__file__).parents[1] / "examples" / "plugins" / "authmethod_homeaway.py"


@pytest.fixture
def site_with_homeaway(site):
    plugins_dir = Path(site.kit.settings["JOMRESKIT_PLUGINS_DIR"])
    plugins_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE, plugins_dir)
    result = site.cli("plugins", "rebuild")
    assert result.exit_code == 0, result.output
    config = {k: v for k, v in site.app.config.items() if k.startswith("JOMRESKIT_")}
    app = create_app({**config, "TESTING": True})
    yield app
    get_kit(app).engine.dispose()


def test_the_plugin_registers_the_homeaway_auth_method(site_with_homeaway):
    method = get_kit(site_with_homeaway).authmethods["homeaway"]

    assert method.label == "HomeAway-style partner key"
    assert [f.key for f in method.fields] == ["advertiser_id", "api_key", "sandbox"]
    assert [f.key for f in method.fields if f.secret] == ["api_key"]


def test_its_settings_are_checked(site_with_homeaway):
    method = get_kit(site_with_homeaway).authmethods["homeaway"]

    with pytest.raises(ValidationError, match="needs the setting api_key"):
        method.clean_settings({"advertiser_id": "A-1234"})
    assert method.clean_settings({"advertiser_id": "A-1234", "api_key": "k", "sandbox": "yes"}) \
        == {"advertiser_id": "A-1234", "api_key": "k", "sandbox": True}


def test_it_adds_the_partner_headers_to_a_request(site_with_homeaway):
    method = get_kit(site_with_homeaway).authmethods["homeaway"]
    request = requests.Request("POST", "https://partner.example/hooks", json={}).prepare()

    method.authenticate(request, {"advertiser_id": "A-1234", "api_key": "k-99", "sandbox": True},
                        requests.Session())

    assert request.headers["X-HomeAway-Advertiser-Id"] == "A-1234"
    assert request.headers["Authorization"] == "HomeAway-Key k-99"
    assert request.headers["X-HomeAway-Environment"] == "sandbox"


def test_a_delivery_carries_the_partner_headers_and_the_signature(site_with_homeaway, serve_app):
    """End to end: webhooks_core signs the delivery, then the plugin adds its headers."""
    from flask import Flask, request
    from standardwebhooks import Webhook

    received = []
    partner = Flask("partner")

    @partner.post("/hooks")
    def hooks():
        received.append((dict(request.headers), request.get_data(as_text=True)))
        return "", 204

    url = serve_app(partner) + "/hooks"
    site = Site(site_with_homeaway, get_kit(site_with_homeaway))
    made = site.cli("webhooks", "create", "--manager", "manager", "--url", url,
                    "--authmethod", "homeaway", "--setting", "advertiser_id=A-1234",
                    "--setting", "api_key=k-99", "--json")
    assert made.exit_code == 0, made.output
    listed = json.loads(site.cli("webhooks", "list", "--json").output)[0]

    site.cli("events", "fire", "booking_modified", "property_uid=1", "contract_uid=41")
    site.cli("worker", "--drain")

    [(headers, body)] = received
    assert headers["X-Homeaway-Advertiser-Id"] == "A-1234"
    assert headers["Authorization"] == "HomeAway-Key k-99"
    assert "X-Homeaway-Environment" not in headers
    signed = Webhook(json.loads(made.output)["secret"]).verify(body, headers)
    assert signed["data"]["contract_uid"] == 41
    assert listed["settings"]["api_key"] != "k-99"  # secret settings are never shown back
