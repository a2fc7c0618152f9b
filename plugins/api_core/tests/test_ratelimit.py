"""Each API key has its own rate limit; counters live per process, in the database or in Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from jomreskit_api_core.ratelimit import parse_limit
from jomreskit_api_core.testing import auth, bearer_token, create_key, restart

THINGS_PLUGIN = Path(__file__).with_name("things_plugin.py")
REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


def test_limits_read_as_people_write_them():
    assert parse_limit("600/minute") == (600, 60)
    assert parse_limit("10 per second") == (10, 1)
    assert parse_limit("100/30s") == (100, 30)
    assert parse_limit("5000/days") == (5000, 86400)
    assert parse_limit("") is None and parse_limit("off") is None and parse_limit(0) is None


def test_a_key_over_its_limit_gets_429_with_retry_after(make_api_site, serve_app):
    site = make_api_site(plugins=[THINGS_PLUGIN], JOMRESKIT_API_RATE_LIMIT="3/minute")
    url = serve_app(site.app) + "/api/things/1"
    busy = bearer_token(site, "manager", ["things_get"])
    other = bearer_token(site, "manager", ["things_get"])

    answers = [requests.get(url, headers=auth(busy)) for _ in range(4)]
    over = answers[-1]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    assert over.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert int(over.headers["X-RateLimit-Reset"]) == int(over.headers["Retry-After"])
    assert requests.get(url, headers=auth(other)).status_code == 200  # another key, its own count


def test_counters_in_the_database_are_shared_by_every_process(make_api_site, serve_app):
    site = make_api_site(plugins=[THINGS_PLUGIN], JOMRESKIT_API_RATE_LIMIT="4/hour",
                         JOMRESKIT_API_RATE_LIMIT_STORAGE="database")
    other_process = restart(site)  # a second app on the same database: another worker process
    token = bearer_token(site, "manager", ["things_get"])
    urls = [serve_app(site.app) + "/api/things/1", serve_app(other_process.app) + "/api/things/1"]

    statuses = [requests.get(urls[n % 2], headers=auth(token)).status_code for n in range(5)]

    assert statuses == [200, 200, 200, 200, 429]
    other_process.kit.engine.dispose()


@pytest.mark.skipif(not redis_available(), reason=f"no Redis at {REDIS_URL}")
def test_counters_in_redis_are_shared_by_every_process(make_api_site, serve_app):
    # Counters are named after the site's database, so other sites (and test runs) keep apart.
    site = make_api_site(plugins=[THINGS_PLUGIN], JOMRESKIT_API_RATE_LIMIT="4/hour",
                         JOMRESKIT_API_RATE_LIMIT_STORAGE=REDIS_URL)
    other_process = restart(site)
    token = bearer_token(site, "manager", ["things_get"])
    urls = [serve_app(site.app) + "/api/things/1", serve_app(other_process.app) + "/api/things/1"]

    statuses = [requests.get(urls[n % 2], headers=auth(token)).status_code for n in range(5)]

    assert statuses == [200, 200, 200, 200, 429]
    other_process.kit.engine.dispose()


def test_per_process_counters_are_not_shared(make_api_site, serve_app):
    site = make_api_site(plugins=[THINGS_PLUGIN], JOMRESKIT_API_RATE_LIMIT="2/hour")
    other_process = restart(site)
    token = bearer_token(site, "manager", ["things_get"])
    urls = [serve_app(site.app) + "/api/things/1", serve_app(other_process.app) + "/api/things/1"]

    statuses = [requests.get(urls[n % 2], headers=auth(token)).status_code for n in range(4)]

    assert statuses == [200, 200, 200, 200]
    other_process.kit.engine.dispose()


def test_no_limit_when_switched_off(make_api_site):
    site = make_api_site(plugins=[THINGS_PLUGIN], JOMRESKIT_API_RATE_LIMIT="off")
    token = bearer_token(site, "manager", ["things_get"])

    response = site.client().get("/api/things/1", headers=auth(token))

    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response.headers


def _from(site, address: str):
    client = site.client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_one_client_id_asking_for_tokens_too_often_gets_429_from_any_address(make_api_site):
    site = make_api_site(JOMRESKIT_API_TOKEN_RATE_LIMIT="3/minute")
    client_id, secret = create_key(site)
    form = {"grant_type": "client_credentials"}

    answers = [_from(site, f"203.0.113.{n}").post("/api/oauth/token", data=form,
                                                   auth=(client_id, "a guess"))
               for n in range(3)]
    over = _from(site, "203.0.113.9").post("/api/oauth/token", data=form,
                                           auth=(client_id, secret))

    assert [a.status_code for a in answers] == [401, 401, 401]
    assert over.status_code == 429
    assert over.get_json()["error"]["code"] == "rate_limited"
    assert "this client id made more than 3 requests" in over.get_json()["error"]["message"]
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    other_id, other_secret = create_key(site)
    other = _from(site, "203.0.113.10").post("/api/oauth/token", data=form,
                                             auth=(other_id, other_secret))
    assert other.status_code == 200  # another client id counts alone


def test_one_address_trying_many_client_ids_gets_429_at_the_jomres_token_endpoint(make_api_site):
    site = make_api_site(JOMRESKIT_API_TOKEN_RATE_LIMIT="3/minute")
    client_id, secret = create_key(site)
    guesser = _from(site, "203.0.113.7")

    statuses = [guesser.post("/api/", data={"client_id": f"guess{n}", "client_secret": "x"})
                .status_code for n in range(3)]
    over = guesser.post("/api/", data={"client_id": client_id, "client_secret": secret})

    assert statuses == [400, 400, 400]  # invalid_client
    assert over.status_code == 429
    assert "this address made more than 3 requests" in over.get_json()["error"]["message"]
    assert over.headers["Retry-After"]
    # The address's count alone: not also the client id's, counted first and under its limit.
    assert over.headers.getlist("X-RateLimit-Remaining") == ["0"]
    assert over.headers.getlist("X-RateLimit-Limit") == ["3"]
    elsewhere = _from(site, "198.51.100.1").post(
        "/api/", data={"client_id": client_id, "client_secret": secret})
    assert elsewhere.status_code == 200


def test_the_token_endpoint_has_a_limit_by_default(make_api_site):
    site = make_api_site()
    client = _from(site, "203.0.113.7")

    answer = client.post("/api/oauth/token", data={"grant_type": "client_credentials"},
                         auth=("nobody", "x"))

    assert answer.status_code == 401
    assert answer.headers["X-RateLimit-Limit"] == "60"
