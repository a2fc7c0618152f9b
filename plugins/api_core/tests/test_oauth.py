"""Tokens: issued to API keys by client credentials, as OAuth2 libraries and Jomres clients ask."""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests
from authlib.integrations.requests_client import OAuth2Session
from jomreskit_api_core import oauth
from jomreskit_api_core.models import AccessToken
from jomreskit_api_core.testing import create_key, expire_token, issue_token
from sqlalchemy import func, select

THINGS_PLUGIN = Path(__file__).with_name("things_plugin.py")


def test_an_oauth2_client_library_takes_a_token_and_calls_the_api(make_api_site, serve_app,
                                                                  site_mode):
    site = make_api_site(plugins=[THINGS_PLUGIN], mode=site_mode)
    base = serve_app(site.app)
    client_id, secret = create_key(site, "manager", ["things_get"])

    session = OAuth2Session(client_id, secret, token_endpoint_auth_method="client_secret_basic")
    token = session.fetch_token(f"{base}/api/oauth/token", grant_type="client_credentials")
    response = session.get(f"{base}/api/things/1")

    assert token["token_type"] == "Bearer"
    assert token["scope"] == "things_get"
    assert 3590 <= token["expires_in"] <= 3600
    assert response.status_code == 200
    assert response.json() == {
        "data": {"property_uid": 1, "name": "Fawlty Towers", "manager": "manager", "limit": 10,
                 "since": None},
        "meta": {"limit": 10},
    }


def test_client_secret_post_works_as_well(make_api_site, serve_app, site_mode):
    site = make_api_site(plugins=[THINGS_PLUGIN], mode=site_mode)
    base = serve_app(site.app)
    client_id, secret = create_key(site, "manager", ["things_get"])

    session = OAuth2Session(client_id, secret, token_endpoint_auth_method="client_secret_post")
    session.fetch_token(f"{base}/api/oauth/token", grant_type="client_credentials")

    assert session.get(f"{base}/api/things/2").json()["data"]["name"] == "Best West Hotel"


def test_a_jomres_client_takes_its_token_from_the_api_root(make_api_site, serve_app, site_mode):
    site = make_api_site(plugins=[THINGS_PLUGIN], mode=site_mode)
    base = serve_app(site.app)
    client_id, secret = create_key(site, "manager", ["things_get"])

    # As Jomres' token endpoint was called: a form with the id and secret, grant type or not.
    with_grant = requests.post(f"{base}/api/", data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
    without_grant = requests.post(f"{base}/api", data={
        "client_id": client_id, "client_secret": secret})
    wrong_secret = requests.post(f"{base}/api/", data={
        "client_id": client_id, "client_secret": secret + "x"})

    for response in (with_grant, without_grant):
        assert response.status_code == 200
        token = response.json()["access_token"]
        assert requests.get(f"{base}/api/things/1",
                            headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"


def test_token_errors_answer_as_oauth2_says(api_site, serve_app):
    base = serve_app(api_site.app) + "/api/oauth/token"
    client_id, secret = create_key(api_site, "manager", ["webhooks_get"])

    wrong_secret = requests.post(base, data={"grant_type": "client_credentials"},
                                 auth=(client_id, "jks_wrong"))
    unknown_client = requests.post(base, data={"grant_type": "client_credentials",
                                               "client_id": "jkc_nobody", "client_secret": "x"})
    nul_client = requests.post(base, data={"grant_type": "client_credentials",
                                           "client_id": "\x00", "client_secret": "x"})
    wrong_grant = requests.post(base, data={"grant_type": "password"}, auth=(client_id, secret))
    json_body = requests.post(base, json={"grant_type": "client_credentials"},
                              auth=(client_id, secret))
    scope_not_held = requests.post(base, data={"grant_type": "client_credentials",
                                               "scope": "search_get"}, auth=(client_id, secret))
    malformed_basic = [requests.post(base, data={"grant_type": "client_credentials"},
                                     headers={"Authorization": header})
                       for header in ("Basic //46eA==", "Basic \t", "Basic")]

    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")
    assert wrong_secret.headers["WWW-Authenticate"].startswith("Basic")
    assert unknown_client.json()["error"] == "invalid_client"
    assert nul_client.json()["error"] == "invalid_client"
    assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (
        400, "unsupported_grant_type")
    assert json_body.json()["error"] == "unsupported_grant_type"  # OAuth2 posts forms
    assert (scope_not_held.status_code, scope_not_held.json()["error"]) == (400, "invalid_scope")
    for response in malformed_basic:  # not UTF-8, empty: Authlib alone would answer 500
        assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert requests.get(base).status_code == 405


def test_tokens_live_as_long_as_configured_and_expired_ones_are_cleaned_up(make_api_site,
                                                                           monkeypatch,
                                                                           site_mode):
    site = make_api_site(JOMRESKIT_API_TOKEN_LIFETIME=120, mode=site_mode)
    client_id, secret = create_key(site, "manager", ["webhooks_get"])
    response = site.client().post("/api/oauth/token", data={"grant_type": "client_credentials"},
                                  auth=(client_id, secret))
    assert response.get_json()["expires_in"] == 120

    def stored_tokens() -> int:
        with site.app.app_context():
            return site.kit.session().scalar(select(func.count()).select_from(AccessToken))

    old = [issue_token(site, client_id, secret) for _ in range(3)]
    for token in old:
        expire_token(site, token)
        assert site.client().get("/api/webhooks/1/property_updated", headers={
            "Authorization": f"Bearer {token}"}).status_code == 401
    issue_token(site, client_id, secret)  # the last sweep was moments ago: they wait
    assert stored_tokens() == 5

    # Token issue sweeps expired tokens out at most every PURGE_EVERY seconds.
    clock = oauth.monotonic
    monkeypatch.setattr(oauth, "monotonic", lambda: clock() + oauth.PURGE_EVERY)
    issue_token(site, client_id, secret)
    assert stored_tokens() == 3


def test_tokens_and_secrets_are_stored_only_as_hashes(api_site):
    client_id, secret = create_key(api_site, "manager", ["webhooks_get"])
    token = issue_token(api_site, client_id, secret)

    with api_site.app.app_context():
        connection = api_site.kit.session().connection()
        rows = [*connection.exec_driver_sql("SELECT * FROM api_keys"),
                *connection.exec_driver_sql("SELECT * FROM api_access_tokens")]
    assert len(rows) == 2
    assert not any(secret in str(row) or token in str(row) for row in rows)


def test_introspection_tells_a_key_about_its_own_tokens(api_site):
    client = api_site.client()
    client_id, secret = create_key(api_site, "manager", ["webhooks_get"])
    other_id, other_secret = create_key(api_site, "manager2", ["webhooks_get"])
    token = issue_token(api_site, client_id, secret)

    mine = client.post("/api/oauth/introspect", data={"token": token}, auth=(client_id, secret))
    not_mine = client.post("/api/oauth/introspect", data={"token": token},
                           auth=(other_id, other_secret))
    unauthenticated = client.post("/api/oauth/introspect", data={"token": token})

    details = mine.get_json()
    assert details["active"] is True
    assert details["client_id"] == client_id
    assert details["scope"] == "webhooks_get"
    assert details["username"] == "manager"
    assert details["exp"] - details["iat"] == 3600
    assert abs(details["iat"] - time.time()) < 60
    assert not_mine.get_json() == {"active": False}
    assert unauthenticated.status_code == 401


def test_revocation_ends_a_token_for_its_own_key_only(api_site):
    client = api_site.client()
    client_id, secret = create_key(api_site, "manager", ["webhooks_get"])
    other_id, other_secret = create_key(api_site, "manager2", ["webhooks_get"])
    token = issue_token(api_site, client_id, secret)

    by_another = client.post("/api/oauth/revoke", data={"token": token},
                             auth=(other_id, other_secret))
    still = client.post("/api/oauth/introspect", data={"token": token}, auth=(client_id, secret))
    by_owner = client.post("/api/oauth/revoke", data={"token": token,
                                                       "client_id": client_id,
                                                       "client_secret": secret})
    after = client.post("/api/oauth/introspect", data={"token": token}, auth=(client_id, secret))

    assert by_another.status_code == 400 and by_another.get_json()["error"] == "invalid_grant"
    assert still.get_json()["active"] is True
    assert by_owner.status_code == 200
    assert after.get_json() == {"active": False}


def test_a_rotated_key_works_only_with_its_new_secret(api_site):
    client_id, secret = create_key(api_site, "manager", ["webhooks_get"])
    old_token = issue_token(api_site, client_id, secret)

    result = api_site.cli("keys", "rotate", client_id, "--json")
    new_secret = json.loads(result.output)["client_secret"]
    client = api_site.client()
    with_old = client.post("/api/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(client_id, secret))
    introspected = client.post("/api/oauth/introspect", data={"token": old_token},
                               auth=(client_id, new_secret))

    assert new_secret != secret
    assert with_old.status_code == 401
    assert issue_token(api_site, client_id, new_secret)
    assert introspected.get_json() == {"active": False}


def test_plain_http_is_refused_off_loopback_unless_allowed(make_api_site):
    site = make_api_site()
    lenient = make_api_site(JOMRESKIT_API_REQUIRE_HTTPS=False)
    form = {"grant_type": "client_credentials"}

    def take_token(site, base_url):
        return site.client().post("/api/oauth/token", data=form, base_url=base_url,
                                  auth=create_key(site, "manager", ["webhooks_get"]))

    refused = take_token(site, "http://booking.example")
    over_https = take_token(site, "https://booking.example")
    allowed = take_token(lenient, "http://booking.example")

    assert (refused.status_code, refused.get_json()["error"]) == (400, "insecure_transport")
    assert over_https.status_code == 200
    assert allowed.status_code == 200
