"""Every write route's preconditions, tried the same way on SQLite and PostgreSQL through a
served site: a stale ``If-Match`` is refused with 412 and changes nothing, a fresh one is
honoured, writes racing with one ETag make one change; an ``Idempotency-Key`` replays the first
answer byte for byte and writes once, even when its retries race.

The routes come from api_core's route table: a write route with no entry in
preconditions.PRECONDITIONS fails here; one with no ETag to match says why in its entry.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from jomreskit_api_core import get_api
from jomreskit_api_core.testing import create_key, issue_token

from .preconditions import PRECONDITIONS, Precondition
from .races import Sent, last_event_id

UNLIMITED = {"JOMRESKIT_API_TOKEN_RATE_LIMIT": "off", "JOMRESKIT_API_RATE_LIMIT": "off"}
RACERS = 10
STALE = '"0123456789abcdef0123456789abcdef"'


def test_every_write_route_has_its_preconditions_tried(api_site):
    writes = {(r.method, r.rule) for r in get_api(api_site.app).routes if r.writes}

    assert writes - PRECONDITIONS.keys() == set(), "write routes with no precondition case"
    assert PRECONDITIONS.keys() - writes == set(), "cases of routes no longer there"
    for route, case in PRECONDITIONS.items():
        assert (case.read is None) == bool(case.no_if_match.strip()), route


class Remote:
    """One remote service's key on a served site, sending the cases' requests."""

    def __init__(self, site: Any, serve_app: Any, route: tuple[str, str], case: Precondition):
        self.site, self.method, self.case = site, route[0], case
        self.base = serve_app(site.app) + get_api(site.app).prefix
        self.token = issue_token(site, *create_key(site, "manager", case.scopes))
        with site.app.app_context():
            with site.kit.transaction():
                world = case.arrange(site)
            site.kit.session.remove()
        self.world = world if case.prepare is None else case.prepare(world, self.get_json)

    def headers(self, more: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(more or {})}

    def get_json(self, path: str, params: dict[str, str]) -> Any:
        answer = requests.get(self.base + path, params=params, headers=self.headers(), timeout=60)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def etag(self) -> str:
        """The ETag of the read the case's If-Match names."""
        read = self.case.read
        assert read is not None
        answer = requests.get(self.base + read.path, params=read.params, headers=self.headers(),
                              timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.headers.get("ETag"), f"GET {read.path} answers no ETag"
        return answer.headers["ETag"]

    def write(self, n: int, headers: dict[str, str] | None = None,
              http: requests.Session | None = None) -> requests.Response:
        sent: Sent = self.case.write(self.world, n)
        answer = (http or requests).request(
            sent.method or self.method, self.base + sent.path, json=sent.body,
            headers=self.headers({**sent.headers, **(headers or {})}), timeout=120)
        assert answer.headers["Content-Type"].startswith("application/json"), answer.text
        return answer

    def last_event(self) -> int:
        with self.site.app.app_context():
            try:
                return last_event_id(self.site)
            finally:
                self.site.kit.session.remove()

    def race(self, n_of: Any, headers: dict[str, str]) -> list[requests.Response]:
        start = threading.Barrier(RACERS)

        def send(n: int) -> requests.Response:
            with requests.Session() as http:
                http.get(self.base + "/openapi.json", timeout=60)  # connected before the start
                start.wait(timeout=30)
                return self.write(n_of(n), headers, http)

        with ThreadPoolExecutor(RACERS) as pool:
            return list(pool.map(send, range(RACERS)))


def error_code(answer: requests.Response) -> str:
    return answer.json()["error"]["code"]


CASES = [pytest.param(route, case, id=f"{route[0]} {route[1]}")
         for route, case in PRECONDITIONS.items()]
WITH_ETAG = [param for param in CASES if param.values[1].read is not None]


@pytest.mark.parametrize(("route", "case"), WITH_ETAG)
def test_a_stale_if_match_is_refused_and_a_fresh_one_honoured(make_api_site, serve_app, route,
                                                              case, site_mode):
    remote = Remote(make_api_site(**UNLIMITED, mode=site_mode), serve_app, route, case)
    before_etag, before_event = remote.etag(), remote.last_event()

    stale = remote.write(0, {"If-Match": STALE})
    weak = remote.write(0, {"If-Match": f"W/{before_etag}"})  # never matches, as HTTP says

    for refused in (stale, weak):
        assert (refused.status_code, error_code(refused)) == (412, "precondition_failed")
        assert refused.headers["ETag"] == before_etag  # the one to read again and send
    assert (remote.etag(), remote.last_event()) == (before_etag, before_event)  # nothing done

    fresh = remote.write(0, {"If-Match": before_etag})

    assert fresh.status_code in (200, 201), fresh.text
    after_etag = remote.etag()
    assert after_etag != before_etag and fresh.headers["ETag"] == after_etag
    assert remote.last_event() > before_event
    late = remote.write(1, {"If-Match": before_etag})
    assert (late.status_code, error_code(late)) == (412, "precondition_failed")
    assert remote.etag() == after_etag


@pytest.mark.parametrize(("route", "case"), WITH_ETAG)
def test_writes_racing_with_one_if_match_make_one_change(make_api_site, serve_app, route, case,
                                                         site_mode):
    site = make_api_site(**UNLIMITED, mode=site_mode)
    remote = Remote(site, serve_app, route, case)
    etag = remote.etag()

    answers = remote.race(lambda n: n, {"If-Match": etag})

    won = [a for a in answers if a.status_code in (200, 201)]
    assert len(won) == 1, [(a.status_code, a.text) for a in answers]
    assert {(a.status_code, error_code(a)) for a in answers if a not in won} == {
        (412, "precondition_failed")}
    assert won[0].headers["ETag"] == remote.etag()


@pytest.mark.parametrize(("route", "case"), CASES)
def test_an_idempotency_key_replays_the_first_answer_and_writes_once(make_api_site, serve_app,
                                                                     route, case, site_mode):
    remote = Remote(make_api_site(**UNLIMITED, mode=site_mode), serve_app, route, case)

    first = remote.write(0, {"Idempotency-Key": "retry-me"})
    written = remote.last_event()
    again = remote.write(0, {"Idempotency-Key": "retry-me"})

    assert first.status_code in (200, 201), first.text
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers.get("ETag") == first.headers.get("ETag")
    assert remote.last_event() == written
    if case.write(remote.world, 1) != case.write(remote.world, 0):
        reused = remote.write(1, {"Idempotency-Key": "retry-me"})
        assert (reused.status_code, error_code(reused)) == (422, "idempotency_key_reused")

    # Retries racing one another: the request is answered once, the others replay that answer
    # or are told to retry in a moment.
    raced = remote.race(lambda n: 2, {"Idempotency-Key": "raced"})

    answered = [a for a in raced if not (a.status_code == 409
                                         and error_code(a) == "idempotency_key_in_use")]
    assert answered and len({(a.status_code, a.content) for a in answered}) == 1, [
        (a.status_code, a.text) for a in raced]
    assert sum(a.headers.get("Idempotent-Replayed") != "true" for a in answered) == 1
