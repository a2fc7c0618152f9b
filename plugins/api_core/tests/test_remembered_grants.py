"""A checked token's grant is remembered for JOMRESKIT_API_TOKEN_CACHE_TTL seconds: changes made
in this process still refuse at once, another process's within the TTL, and expiry stays exact."""

from __future__ import annotations

import time
from pathlib import Path

from jomreskit_api_core.keys import revoke_key, rotate_key
from jomreskit_api_core.testing import auth, create_key, issue_token
from sqlalchemy import delete, insert, select, text

from jomreskit.domain import ManagerProperty, User

THINGS_PLUGIN = Path(__file__).with_name("things_plugin.py")


def _site(make_api_site, **config):
    site = make_api_site(plugins=[THINGS_PLUGIN], **config)
    client_id, secret = create_key(site, "manager", ["things_get"])
    return site, client_id, secret, issue_token(site, client_id, secret)


def _status(site, token: str, property_uid: int = 1) -> tuple[int, str | None]:
    response = site.client().get(f"/api/things/{property_uid}", headers=auth(token))
    body = response.get_json()
    return response.status_code, (body.get("error") or {}).get("code")


def _revoke_as_another_process(site, client_id: str) -> None:
    """Revoke the key on a connection of the driver's own, as `jomreskit keys revoke` run
    elsewhere does: this process's sessions see nothing of it."""
    raw = site.kit.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE client_id = "
                       + ("%s" if site.kit.engine.dialect.name == "postgresql" else "?"),
                       (client_id,))
        raw.commit()
    finally:
        raw.close()


def test_another_process_revoking_is_seen_once_the_remembered_grant_runs_out(make_api_site):
    site, client_id, _secret, token = _site(make_api_site, JOMRESKIT_API_TOKEN_CACHE_TTL=0.5)
    assert _status(site, token) == (200, None)

    _revoke_as_another_process(site, client_id)
    deadline = time.monotonic() + 10
    while _status(site, token) == (200, None):
        assert time.monotonic() < deadline, "the revoked key was still served after 10 s"
        time.sleep(0.05)

    assert _status(site, token) == (401, "invalid_token")


def test_a_remembered_grant_answers_without_reading_the_key_again(make_api_site):
    site, client_id, _secret, token = _site(make_api_site, JOMRESKIT_API_TOKEN_CACHE_TTL=600)
    assert _status(site, token) == (200, None)

    _revoke_as_another_process(site, client_id)

    # Remembered: the change made elsewhere is not read yet ...
    assert _status(site, token) == (200, None)
    # ... but a property the grant was not read for is a new read, which sees it.
    assert _status(site, token, property_uid=2) == (401, "invalid_token")


def test_with_a_ttl_of_0_every_call_reads_the_database(make_api_site):
    site, client_id, _secret, token = _site(make_api_site, JOMRESKIT_API_TOKEN_CACHE_TTL=0)
    assert _status(site, token) == (200, None)

    _revoke_as_another_process(site, client_id)

    assert _status(site, token) == (401, "invalid_token")


def test_revoking_in_this_process_refuses_at_once(make_api_site):
    site, client_id, _secret, token = _site(make_api_site, JOMRESKIT_API_TOKEN_CACHE_TTL=600)
    assert _status(site, token) == (200, None)

    with site.app.app_context(), site.kit.transaction():
        revoke_key(site.kit, client_id)

    assert _status(site, token) == (401, "invalid_token")


def test_the_revocation_endpoint_refuses_at_once(make_api_site):
    site, client_id, secret, token = _site(make_api_site, JOMRESKIT_API_TOKEN_CACHE_TTL=600)
    assert _status(site, token) == (200, None)

    revoked = site.client().post("/api/oauth/revoke", data={"token": token},
                                 auth=(client_id, secret))

    assert revoked.status_code == 200
    assert _status(site, token) == (401, "invalid_token")


def test_unlinking_a_property_refuses_at_once_whether_by_statement_or_orm_object(make_api_site):
    site, _client_id, _secret, token = _site(make_api_site, JOMRESKIT_API_TOKEN_CACHE_TTL=600)
    assert _status(site, token, 1) == (200, None)
    assert _status(site, token, 2) == (200, None)

    with site.app.app_context(), site.kit.transaction() as session:  # as a statement
        manager = session.scalar(select(User).where(User.username == "manager"))
        session.execute(delete(ManagerProperty).where(
            ManagerProperty.manager_id == manager.manager_id, ManagerProperty.property_uid == 1))
    assert _status(site, token, 1) == (403, "forbidden_property")

    with site.app.app_context(), site.kit.transaction() as session:  # as an ORM change
        for link in session.scalars(select(ManagerProperty).where(
                ManagerProperty.manager_id == manager.manager_id)):
            session.delete(link)
    assert _status(site, token, 2) == (403, "forbidden_property")


def test_a_remembered_token_still_expires_on_time(make_api_site):
    site, _client_id, _secret, token = _site(make_api_site, JOMRESKIT_API_TOKEN_CACHE_TTL=600,
                                             JOMRESKIT_API_TOKEN_LIFETIME=2)
    assert _status(site, token) == (200, None)

    time.sleep(2.1)

    assert _status(site, token) == (401, "invalid_token")


def _token_status(site, client_id: str, secret: str) -> int:
    return site.client().post("/api/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(client_id, secret)).status_code


def test_token_issue_refuses_a_key_revoked_elsewhere_at_once_though_it_is_remembered(
        make_api_site):
    site, client_id, secret, _token = _site(make_api_site, JOMRESKIT_API_TOKEN_CACHE_TTL=600)
    assert _token_status(site, client_id, secret) == 200  # the key is remembered now
    _revoke_as_another_process(site, client_id)
    stored = _tokens_of(site, client_id)

    assert _token_status(site, client_id, secret) == 401
    assert _tokens_of(site, client_id) == stored  # nothing stored for the refused request


def test_token_issue_refuses_a_key_this_process_rotates_at_once(make_api_site):
    site, client_id, secret, _token = _site(make_api_site, JOMRESKIT_API_TOKEN_CACHE_TTL=600)
    assert _token_status(site, client_id, secret) == 200

    with site.app.app_context(), site.kit.transaction():
        _key, new_secret = rotate_key(site.kit, client_id)

    assert _token_status(site, client_id, secret) == 401
    assert _token_status(site, client_id, new_secret) == 200


def _tokens_of(site, client_id: str) -> int:
    with site.kit.engine.connect() as connection:
        return connection.scalar(text(
            "SELECT count(*) FROM api_access_tokens t JOIN api_keys k ON k.id = t.api_key_id "
            "WHERE k.client_id = :client_id"), {"client_id": client_id})


def test_linking_a_property_by_statement_grants_it_at_once(make_api_site):
    site = make_api_site(plugins=[THINGS_PLUGIN], JOMRESKIT_API_TOKEN_CACHE_TTL=600)
    token = issue_token(site, *create_key(site, "manager2", ["things_get"]))
    assert _status(site, token, 1) == (403, "forbidden_property")  # remembered, unlinked

    with site.app.app_context(), site.kit.transaction() as session:
        manager = session.scalar(select(User).where(User.username == "manager2"))
        session.execute(insert(ManagerProperty).values(manager_id=manager.manager_id,
                                                       property_uid=1))

    assert _status(site, token, 1) == (200, None)
