"""The Webhooks and Webhook deliveries pages of the web console: a manager adds a webhook with
an auth method's settings form, tests it, follows its deliveries attempt by attempt, and
redelivers; secrets stay masked; no one sees another manager's webhooks."""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from jomreskit.console.testing import flashes, menu, sign_in, token_in
from jomreskit.testing import Site, restart


class Receiver:
    """A remote service on loopback that answers ``status`` (and records who called)."""

    def __init__(self) -> None:
        self.status = 200
        self.authorizations: list[str] = []
        self.lock = threading.Lock()
        self.url = ""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.authorizations.append(request.headers.get("Authorization", ""))
        body = b"thanks" if self.status < 300 else b"receiver is broken"
        return Response(body, status=self.status)(environ, start_response)


@pytest.fixture
def receiver(serve_app) -> Receiver:
    found = Receiver()
    found.url = serve_app(found) + "/hooks/jomres"
    return found


@pytest.fixture
def console_site(site: Site) -> Iterator[Site]:
    """The demo site started again, as after `db upgrade`, so the plugins' pages are mounted."""
    restarted = restart(site)
    yield restarted
    restarted.kit.session.remove()
    restarted.kit.engine.dispose()


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def create_webhook(client, url: str, **extra: Any) -> Any:
    form = client.get("/console/webhooks/new")
    data = {"csrf_token": token_in(form), "url": url, "authmethod": "basic",
            "setting-basic-username": "channel", "setting-basic-password": "s3cret-pass",
            **extra}
    return client.post("/console/webhooks/new", data=data)


def webhook_id_on(page) -> int:
    return int(re.search(r'<article class="panel webhook" id="webhook-(\d+)"', page.text)[1])


def article(page, kind: str, number: int) -> str:
    found = re.search(rf'<article class="panel {kind}" id="{kind}-{number}".*?</article>',
                      page.text, re.S)
    assert found, f"no {kind} {number} on the page"
    return re.sub(r"\s+", " ", found[0])


def test_managers_get_the_pages_and_super_managers_do_not(console_site):
    manager, admin = console_site.client(), console_site.client()
    sign_in(manager, "manager")
    sign_in(admin, "super")

    assert {"Webhooks", "Webhook deliveries"} <= set(menu(manager.get("/console/")))
    assert not {"Webhooks", "Webhook deliveries"} & set(menu(admin.get("/console/")))
    assert admin.get("/console/webhooks/").status_code == 403
    assert admin.get("/console/webhooks/deliveries").status_code == 403


def test_the_form_offers_each_installed_auth_method_with_its_fields(console_site):
    client = console_site.client()
    sign_in(client, "manager")

    form = client.get("/console/webhooks/new").text

    for label in ("No authentication", "HTTP Basic authentication",
                  "OAuth 2.0 client credentials"):
        assert label in form
    assert 'name="setting-basic-username" type="text"' in form
    assert 'name="setting-basic-password" type="password"' in form
    assert 'name="setting-oauth-client_secret" type="password"' in form
    assert "Get data as part of a webhook communication" not in form  # scopes are api_core's
    assert 'value="booking_modified"' in form and "Fawlty Towers" in form


def test_creating_a_webhook_shows_its_signing_secret_once_and_masks_the_password(
        console_site, receiver):
    client = console_site.client()
    sign_in(client, "manager")

    created = create_webhook(client, receiver.url, event=["booking_modified"], property=["1"])

    assert created.status_code == 201
    webhook_id = webhook_id_on(created)
    secret = re.search(r'id="signing-secret" type="text" value="(whsec_[^"]+)"', created.text)[1]
    listing = client.get("/console/webhooks/")
    shown = article(listing, "webhook", webhook_id)
    assert "HTTP Basic authentication" in shown
    assert "Password: <code>********</code>" in shown
    assert "booking_modified" in shown and "Fawlty Towers" in shown
    assert "s3cret-pass" not in listing.text and secret not in listing.text
    assert "s3cret-pass" not in client.get(f"/console/webhooks/{webhook_id}/edit").text


def test_a_refused_form_says_why_and_does_not_echo_the_password(console_site):
    client = console_site.client()
    sign_in(client, "manager")

    answer = create_webhook(client, "ftp://example.com/")

    assert answer.status_code == 422
    assert flashes(answer) == [
        "the webhook URL 'ftp://example.com/' is not a usable http(s) URL: it must start "
        "with http:// or https://"]
    assert 'value="ftp://example.com/"' in answer.text
    assert "s3cret-pass" not in answer.text


def test_a_test_event_is_delivered_and_logged_with_its_attempt(console_site, receiver):
    client = console_site.client()
    sign_in(client, "manager")
    webhook_id = webhook_id_on(create_webhook(client, receiver.url))
    page = client.get("/console/webhooks/")

    answer = client.post(f"/console/webhooks/{webhook_id}/test",
                         data={"csrf_token": token_in(page)}, follow_redirects=True)

    assert re.fullmatch(r"Test event delivered: HTTP 200 in \d+ ms\.", flashes(answer)[0])
    assert receiver.authorizations == [basic_auth("channel", "s3cret-pass")]
    delivery = re.search(r'<article class="panel delivery".*?</article>', answer.text, re.S)[0]
    assert "ping" in delivery and "succeeded" in delivery and "thanks" in delivery


def test_saving_the_form_with_the_masked_password_keeps_the_password(console_site, receiver):
    client = console_site.client()
    sign_in(client, "manager")
    webhook_id = webhook_id_on(create_webhook(client, receiver.url))
    form = client.get(f"/console/webhooks/{webhook_id}/edit")

    saved = client.post(f"/console/webhooks/{webhook_id}/edit", data={
        "csrf_token": token_in(form), "url": receiver.url, "authmethod": "basic",
        "setting-basic-username": "channel2", "setting-basic-password": "********",
    }, follow_redirects=True)
    client.post(f"/console/webhooks/{webhook_id}/test", data={"csrf_token": token_in(form)})

    assert flashes(saved) == [f"Webhook {webhook_id} saved."]
    assert receiver.authorizations == [basic_auth("channel2", "s3cret-pass")]


def test_a_failing_delivery_shows_its_retry_schedule_and_can_be_redelivered(
        console_site, receiver):
    client = console_site.client()
    sign_in(client, "manager")
    webhook_id = webhook_id_on(create_webhook(client, receiver.url))
    receiver.status = 503
    console_site.cli("events", "fire", "booking_modified", "property_uid=1", "contract_uid=41")
    console_site.cli("worker", "--drain")

    page = client.get(f"/console/webhooks/deliveries?webhook={webhook_id}")

    delivery_id = int(re.search(r'id="delivery-(\d+)"', page.text)[1])
    shown = article(page, "delivery", delivery_id)
    assert "booking_modified" in shown and "pending" in shown
    assert "1 attempt " in shown
    assert "503" in shown and "receiver is broken" in shown
    assert "Next attempt</strong> (2 of 10)" in shown
    assert "follow after 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h" in shown

    receiver.status = 200
    answer = client.post(f"/console/webhooks/deliveries/{delivery_id}/redeliver",
                         data={"csrf_token": token_in(page), "webhook": webhook_id},
                         follow_redirects=True)
    assert flashes(answer) == [f"Delivery {delivery_id} queued again; it is sent within moments."]
    console_site.cli("worker", "--drain")
    shown = article(client.get(f"/console/webhooks/deliveries?webhook={webhook_id}"),
                    "delivery", delivery_id)
    assert "succeeded" in shown and "2 attempts" in shown
    assert re.findall(r'data-label="Status">(\d+)<', shown) == ["503", "200"]


def test_a_webhook_disabled_automatically_says_why_and_can_be_re_enabled(console_site, receiver):
    client = console_site.client()
    sign_in(client, "manager")
    webhook_id = webhook_id_on(create_webhook(client, receiver.url))
    receiver.status = 410  # Gone: the receiver asks not to be called again
    console_site.cli("events", "fire", "booking_modified", "property_uid=1", "contract_uid=41")
    console_site.cli("worker", "--drain")

    listing = client.get("/console/webhooks/")

    shown = article(listing, "webhook", webhook_id)
    assert "disabled" in shown and "Disabled:</strong>" in shown and "410" in shown
    deliveries = client.get(f"/console/webhooks/deliveries?webhook={webhook_id}")
    assert "This webhook is disabled:" in deliveries.text
    answer = client.post(f"/console/webhooks/{webhook_id}/enable",
                         data={"csrf_token": token_in(listing), "back": "deliveries"},
                         follow_redirects=True)
    assert flashes(answer) == [f"Webhook {webhook_id} enabled."]
    assert "This webhook is disabled:" not in answer.text


def test_rotating_the_signing_secret_shows_the_new_one_once(console_site, receiver):
    client = console_site.client()
    sign_in(client, "manager")
    created = create_webhook(client, receiver.url)
    webhook_id = webhook_id_on(created)
    old = re.search(r'id="signing-secret" type="text" value="(whsec_[^"]+)"', created.text)[1]

    rotated = client.post(f"/console/webhooks/{webhook_id}/rotate-secret",
                          data={"csrf_token": token_in(created)})

    new = re.search(r'id="signing-secret" type="text" value="(whsec_[^"]+)"', rotated.text)[1]
    assert new != old
    assert new not in client.get("/console/webhooks/").text


def test_disable_and_delete(console_site, receiver):
    client = console_site.client()
    sign_in(client, "manager")
    webhook_id = webhook_id_on(create_webhook(client, receiver.url))
    token = token_in(client.get("/console/webhooks/"))

    disabled = client.post(f"/console/webhooks/{webhook_id}/disable", data={"csrf_token": token},
                           follow_redirects=True)
    assert "Disabled:</strong> disabled by hand" in article(disabled, "webhook", webhook_id)

    deleted = client.post(f"/console/webhooks/{webhook_id}/delete", data={"csrf_token": token},
                          follow_redirects=True)
    assert flashes(deleted) == [f"Webhook {webhook_id} deleted, with its deliveries."]
    assert "You have no webhooks yet." in deleted.text


def test_a_manager_never_sees_or_touches_another_manager_webhooks(console_site, receiver):
    basil = console_site.client()
    sign_in(basil, "manager")
    webhook_id = webhook_id_on(create_webhook(basil, receiver.url))
    basil.post(f"/console/webhooks/{webhook_id}/test",
               data={"csrf_token": token_in(basil.get("/console/webhooks/"))})
    sybil = console_site.client()
    sign_in(sybil, "manager2")
    page = sybil.get("/console/webhooks/")

    assert receiver.url not in page.text
    assert "You have no webhooks yet." in page.text
    assert receiver.url not in sybil.get("/console/webhooks/deliveries").text
    refused = sybil.get(f"/console/webhooks/deliveries?webhook={webhook_id}",
                        follow_redirects=True)
    assert flashes(refused) == [f"no webhook {webhook_id}"]
    for action in ("test", "disable", "rotate-secret", "delete"):
        answer = sybil.post(f"/console/webhooks/{webhook_id}/{action}",
                            data={"csrf_token": token_in(page)}, follow_redirects=True)
        assert flashes(answer) == [f"no webhook {webhook_id}"], action
    edit = sybil.get(f"/console/webhooks/{webhook_id}/edit", follow_redirects=True)
    assert flashes(edit) == [f"no webhook {webhook_id}"]
    assert len(receiver.authorizations) == 1  # only Basil's own test event
    assert f'id="webhook-{webhook_id}"' in basil.get("/console/webhooks/").text
