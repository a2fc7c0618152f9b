"""A webhook whose address deliveries will refuse says so when it is made, naming the setting
that opens it, rather than first at its failed delivery."""

from __future__ import annotations

import json

import pytest
from jomreskit_webhooks_core import services

from jomreskit.console.testing import flashes, sign_in, token_in

from .test_delivery import create, deliveries, drain, fire

SETTING = "JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS"


@pytest.fixture
def closed_site(make_webhook_site):
    """A site as deployed: no network opened to deliveries (the test default opens loopback)."""
    return make_webhook_site(JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS="")


def test_creating_a_loopback_webhook_warns_naming_the_setting(closed_site):
    result = closed_site.cli("webhooks", "create", "--manager", "manager", "--url",
                             "http://127.0.0.1:8001/", "--authmethod", "none")

    assert result.exit_code == 0, result.output  # made: the setting may be opened later
    assert result.stderr.strip() == (
        "warning: deliveries to http://127.0.0.1:8001/ will be refused: 127.0.0.1 is a "
        f"loopback address. To send there, open it in {SETTING} (e.g. 127.0.0.0/8) for every "
        "process of the site (serve, worker)")


@pytest.mark.parametrize("url, opening", [
    ("http://localhost:8001/hook", "127.0.0.0/8"),
    ("http://10.1.2.3/hook", "10.1.2.3/32"),
    ("http://[::1]:8001/", "::1/128"),
])
def test_the_json_answer_carries_the_warning(closed_site, url, opening):
    made = create(closed_site, url)

    assert made["warning"].startswith(f"deliveries to {url} will be refused: ")
    assert f"open it in {SETTING} (e.g. {opening})" in made["warning"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8001/", "https://hooks.example/in",
                                 "http://93.184.215.14/hook"])
def test_no_warning_where_deliveries_may_go(site, closed_site, url):
    chosen = site if url.startswith("http://127.") else closed_site  # site opens loopback

    result = chosen.cli("webhooks", "create", "--manager", "manager", "--url", url,
                        "--authmethod", "none", "--json")

    assert result.exit_code == 0, result.output
    assert "warning" not in json.loads(result.stdout)
    assert result.stderr == ""


def test_the_console_form_warns_too(closed_site):
    client = closed_site.client()
    sign_in(client, "manager")
    form = client.get("/console/webhooks/new")

    answer = client.post("/console/webhooks/new", data={
        "csrf_token": token_in(form), "url": "http://127.0.0.1:8001/", "authmethod": "none"})

    assert answer.status_code == 201
    assert any(message.startswith("Deliveries to http://127.0.0.1:8001/ will be refused")
               and SETTING in message for message in flashes(answer))


def test_the_failed_delivery_names_the_setting_too(closed_site):
    create(closed_site, "http://127.0.0.1:9/hook")
    fire(closed_site)
    drain(closed_site)

    [delivery] = deliveries(closed_site)
    assert delivery.status == "failed"
    assert delivery.last_error == (
        f"refused to connect to 127.0.0.1: 127.0.0.1 is a loopback address ({SETTING} opens "
        "chosen ranges)")


def test_a_name_is_judged_when_delivered_not_when_made(closed_site):
    with closed_site.app.app_context():
        assert services.refused_address(closed_site.kit, "http://hooks.internal/in") is None
