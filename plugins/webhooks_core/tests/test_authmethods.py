"""Each auth method signs in to the receiving service its own way; a plugin can add one."""

from __future__ import annotations

import base64
import json
import logging

from jomreskit_webhooks_core.models import Webhook
from sqlalchemy import select
from standardwebhooks import Webhook as StandardWebhook

from .test_delivery import create, drain, fire


def test_none_sends_no_credentials(site, receiver):
    create(site, receiver.url + "/hook", "--authmethod", "none")
    fire(site)
    drain(site)
    [got] = receiver.deliveries
    assert "Authorization" not in got.headers


def test_basic_sends_the_username_and_password(site, receiver):
    create(site, receiver.url + "/hook", "--authmethod", "basic",
           "--setting", "username=basil", "--setting", "password=fawlty-1")
    fire(site)
    drain(site)
    [got] = receiver.deliveries
    scheme, encoded = got.headers["Authorization"].split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == "basil:fawlty-1"


def test_secret_settings_are_encrypted_masked_and_never_logged(site, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    created = create(site, receiver.url + "/hook", "--authmethod", "basic",
                     "--setting", "username=basil", "--setting", "password=fawlty-1")
    assert created["settings"] == {"username": "basil", "password": "********"}
    listed = json.loads(site.cli("webhooks", "list", "--json").output)
    assert listed[0]["settings"]["password"] == "********"
    with site.app.app_context(), site.kit.transaction() as session:
        row = session.scalar(select(Webhook))
        assert "fawlty-1" not in json.dumps(row.settings) + (row.secret_settings or "")

    receiver.answer(500, "no")
    fire(site)
    drain(site)
    shown = site.cli("deliveries", "show", "1", "--json").output
    assert "fawlty-1" not in shown
    assert "fawlty-1" not in caplog.text


def test_updating_other_settings_keeps_a_stored_secret(site, receiver):
    created = create(site, receiver.url + "/hook", "--authmethod", "basic",
                     "--setting", "username=basil", "--setting", "password=fawlty-1")
    result = site.cli("webhooks", "update", str(created["id"]), "--setting", "username=sybil")
    assert result.exit_code == 0, result.output
    fire(site)
    drain(site)
    [got] = receiver.deliveries
    assert base64.b64decode(got.headers["Authorization"].split(" ")[1]) == b"sybil:fawlty-1"


def test_a_missing_required_setting_is_refused_by_name(site, receiver):
    result = site.cli("webhooks", "create", "--manager", "manager", "--url", receiver.url,
                      "--authmethod", "basic", "--setting", "username=basil")
    assert result.exit_code != 0
    assert "password" in result.output
    unknown = site.cli("webhooks", "create", "--manager", "manager", "--url", receiver.url,
                       "--authmethod", "kerberos")
    assert "unknown auth method 'kerberos'" in unknown.output


def oauth_webhook(site, receiver, *extra):
    return create(site, receiver.url + "/hook", "--authmethod", "oauth",
                  "--setting", "client_id=remote-client", "--setting", "client_secret=s3cret",
                  "--setting", f"token_url={receiver.url}/token", *extra)


def test_oauth_fetches_a_token_then_posts_the_event_with_it(site, receiver):
    webhook = oauth_webhook(site, receiver, "--setting", "scope=events")
    fire(site)
    drain(site)

    token_request, delivery = receiver.received
    assert token_request.path == "/token"
    assert token_request.form == {"grant_type": "client_credentials", "scope": "events"}
    assert base64.b64decode(token_request.headers["Authorization"].split(" ")[1]) == \
        b"remote-client:s3cret"
    assert delivery.headers["Authorization"] == "Bearer token-1"
    assert delivery.json()["type"] == "booking_modified"  # the event itself is sent
    StandardWebhook(webhook["secret"]).verify(delivery.body, delivery.headers)


def test_oauth_can_send_the_client_credentials_in_the_form(site, receiver):
    oauth_webhook(site, receiver, "--setting", "client_auth=client_secret_post")
    fire(site)
    drain(site)
    token_request = receiver.received[0]
    assert token_request.form["client_id"] == "remote-client"
    assert token_request.form["client_secret"] == "s3cret"
    assert "Authorization" not in token_request.headers


def test_oauth_keeps_the_token_until_it_expires(site, receiver):
    oauth_webhook(site, receiver)
    fire(site)
    fire(site, "booking_cancelled", property_uid=1, contract_uid=41)
    drain(site)
    assert receiver.tokens_issued == ["token-1"]
    assert [d.headers["Authorization"] for d in receiver.deliveries] == ["Bearer token-1"] * 2


def test_oauth_renews_the_token_once_on_401(site, receiver):
    oauth_webhook(site, receiver)
    receiver.answer(401, "token revoked")
    fire(site)
    assert drain(site)["succeeded"] == 1
    assert receiver.tokens_issued == ["token-1", "token-2"]
    assert [d.headers["Authorization"] for d in receiver.deliveries] == [
        "Bearer token-1", "Bearer token-2"]


def test_oauth_does_not_loop_on_a_second_401(site, receiver):
    oauth_webhook(site, receiver)
    receiver.answer(401, "no")
    receiver.answer(401, "still no")
    fire(site)
    assert drain(site)["retrying"] == 1
    assert len(receiver.deliveries) == 2


def test_a_refused_token_request_is_logged_and_retried(site, receiver):
    create(site, receiver.url + "/hook", "--authmethod", "oauth",
           "--setting", "client_id=x", "--setting", "client_secret=y",
           "--setting", f"token_url={receiver.url}/hook")  # answers 401 below
    receiver.answer(401, json.dumps({"error": "invalid_client"}))
    fire(site)
    assert drain(site)["retrying"] == 1
    detail = json.loads(site.cli("deliveries", "show", "1", "--json").output)
    assert "HTTP 401 (invalid_client)" in detail["last_error"]


PARTNER_PLUGIN = '''
"""A partner's own auth method, from a plugin: an API key in a header of its choosing."""

from jomreskit import AuthMethod, SettingField, hookimpl


class PartnerKey(AuthMethod):
    name = "partner_key"
    label = "Partner API key"
    fields = (
        SettingField("header", "Header", required=True),
        SettingField("key", "API key", format="password", required=True, secret=True),
    )

    def authenticate(self, request, settings, http):
        request.headers[settings["header"]] = settings["key"]


@hookimpl
def register_authmethods():
    return [PartnerKey()]
'''


def test_a_plugin_adds_an_auth_method_without_changing_the_core(make_webhook_site, receiver,
                                                                  tmp_path):
    folder = tmp_path / "custom"
    folder.mkdir()
    (folder / "partner_auth.py").write_text(PARTNER_PLUGIN)
    site = make_webhook_site(JOMRESKIT_PLUGINS_DIR=str(folder))

    created = create(site, receiver.url + "/hook", "--authmethod", "partner_key",
                     "--setting", "header=X-Partner-Key", "--setting", "key=k-123")
    assert created["settings"] == {"header": "X-Partner-Key", "key": "********"}
    fire(site)
    drain(site)
    [got] = receiver.deliveries
    assert got.headers["X-Partner-Key"] == "k-123"
