"""What the API answers when the database cannot serve for a moment, and what a rotation or
revocation made by another process does at once.

Every database error on the API's path arrives as SQLAlchemy's exception: a database held by
other writes answers 503 ``busy`` with Retry-After (never 500), and a server that dropped its
connections costs at most one 503 before the pool is fresh again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jomreskit_api_core.testing import auth, bearer_token, create_key, issue_token
from sqlalchemy import create_engine, event, text

JOMRESKIT = str(Path(sys.executable).with_name("jomreskit"))
TOKEN = "/api/oauth/token"
CALLBACK = "/api/webhooks/1/booking_modified/41"


def _token_answer(site, client_id: str, secret: str):
    return site.client().post(TOKEN, data={"grant_type": "client_credentials"},
                              auth=(client_id, secret))


def _impatient(site) -> None:
    """The site's connections give up waiting for a lock after 100 ms rather than 30 s."""
    engine = site.kit.engine
    engine.dispose()
    if engine.dialect.name == "sqlite":
        statement = "PRAGMA busy_timeout = 100"
    else:
        statement = "SET lock_timeout = '100ms'"

    @event.listens_for(engine, "connect")
    def _wait_briefly(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        if engine.dialect.name == "postgresql":
            dbapi_connection.commit()


def test_token_issue_while_other_writes_hold_the_database_answers_503_busy(make_api_site):
    site = make_api_site()
    client_id, secret = create_key(site)
    _impatient(site)
    holder = create_engine(site.kit.engine.url, isolation_level="AUTOCOMMIT")
    with holder.connect() as other:
        if holder.dialect.name == "sqlite":
            other.exec_driver_sql("BEGIN IMMEDIATE")  # another process is writing
        else:  # another process is changing the key (a rotation under way, say)
            other.exec_driver_sql("BEGIN")
            other.execute(text("SELECT id FROM api_keys WHERE client_id = :c FOR UPDATE"),
                          {"c": client_id})
        response = _token_answer(site, client_id, secret)
        other.exec_driver_sql("ROLLBACK")
    holder.dispose()

    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "busy"
    assert response.headers["Retry-After"] == "1"
    assert _token_answer(site, client_id, secret).status_code == 200  # and then it works


def test_a_database_that_dropped_its_connections_costs_at_most_one_503(make_api_site):
    site = make_api_site(JOMRESKIT_API_TOKEN_CACHE_TTL=0)  # every call reads the database
    if site.kit.engine.dialect.name != "postgresql":
        pytest.skip("a server that ends connections is PostgreSQL's")
    token = bearer_token(site)
    assert site.client().get(CALLBACK, headers=auth(token)).status_code == 200
    # As a restart does to them: every connection in the site's pool ended by the server
    # (and only those: other sites share the database server).
    pids = _pooled_backends(site.kit.engine)
    admin = create_engine(site.kit.engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as other:
        for pid in pids:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()

    first = site.client().get(CALLBACK, headers=auth(token))
    then = site.client().get(CALLBACK, headers=auth(token))

    assert first.status_code in (200, 503), first.get_data(as_text=True)
    if first.status_code == 503:
        assert first.headers["Retry-After"] == "1"
    assert then.status_code == 200, then.get_data(as_text=True)


def _pooled_backends(engine) -> list[int]:
    """The server process ids of every connection resting in ``engine``'s pool."""
    held = [engine.connect() for _ in range(engine.pool.checkedin())]
    try:
        return [connection.scalar(text("SELECT pg_backend_pid()")) for connection in held]
    finally:
        for connection in held:
            connection.close()


def _cli(site, *args: str) -> subprocess.CompletedProcess:
    """`jomreskit ARGS` run as another process against the site's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOMRESKIT_")}
    env.update({k: str(site.kit.settings[k]) for k in (
        "JOMRESKIT_INSTANCE_PATH", "JOMRESKIT_DATABASE_URL", "JOMRESKIT_SECRET_KEY",
        "JOMRESKIT_PLUGINS_DIR")})
    return subprocess.run([JOMRESKIT, *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_secret_rotated_by_another_process_gets_no_token_from_the_moment_it_commits(
        make_api_site, site_mode):
    # Remembered keys and grants for ten minutes: only the database can refuse at once.
    site = make_api_site(JOMRESKIT_API_TOKEN_CACHE_TTL=600, mode=site_mode)
    client_id, old_secret = create_key(site)
    issue_token(site, client_id, old_secret)  # the key is remembered here now

    rotated = _cli(site, "keys", "rotate", client_id, "--json")
    assert rotated.returncode == 0, rotated.stderr
    new_secret = json.loads(rotated.stdout)["client_secret"]

    refused = _token_answer(site, client_id, old_secret)
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "invalid_client"
    token = issue_token(site, client_id, new_secret)  # the new one works at once
    assert site.client().get(CALLBACK, headers=auth(token)).status_code == 200


def test_a_key_revoked_by_another_process_gets_no_token_from_the_moment_it_commits(
        make_api_site, site_mode):
    site = make_api_site(JOMRESKIT_API_TOKEN_CACHE_TTL=600, mode=site_mode)
    client_id, secret = create_key(site)
    issue_token(site, client_id, secret)

    revoked = _cli(site, "keys", "revoke", client_id)
    assert revoked.returncode == 0, revoked.stderr

    assert _token_answer(site, client_id, secret).status_code == 401
