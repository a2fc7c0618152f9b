"""Every write route raced: twenty clients send it at the same moment through a served site,
on SQLite and on PostgreSQL (real concurrent connections), and the route's own invariant holds
afterwards (races.py: one night one price, one room-night one booking, ...).

The routes come from api_core's route table: a write route with no race in races.RACES and no
reason in races.OPTED_OUT fails here, so a new write route cannot pass unproven.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from jomreskit_api_core import get_api
from jomreskit_api_core.testing import create_key, issue_token

from .races import CLIENTS, OPTED_OUT, RACES, Answer, Race, Sent

UNLIMITED = {"JOMRESKIT_API_TOKEN_RATE_LIMIT": "off", "JOMRESKIT_API_RATE_LIMIT": "off"}


def test_every_write_route_is_raced_or_says_why(api_site):
    writes = {(r.method, r.rule) for r in get_api(api_site.app).routes if r.writes}

    unproven = writes - RACES.keys() - OPTED_OUT.keys()
    assert not unproven, f"write routes with no race and no reason to opt out: {unproven}"
    assert not (RACES.keys() | OPTED_OUT.keys()) - writes, "races of routes no longer there"
    assert all(reason.strip() for reason in OPTED_OUT.values())


def race(base: str, token: str, method: str, sends: list[Sent]) -> list[Answer]:
    """Send every request at once, one client (thread and connection) each."""
    start = threading.Barrier(len(sends))

    def send(n: int) -> Answer:
        sent = sends[n]
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {token}"
            request = http.prepare_request(requests.Request(
                sent.method or method, base + sent.path, json=sent.body,
                headers=dict(sent.headers)))
            start.wait(timeout=30)
            response = http.send(request, timeout=120)
        assert response.headers["Content-Type"].startswith("application/json"), response.text
        return Answer(n, sent, response.status_code, response.json(), response.headers)

    with ThreadPoolExecutor(len(sends)) as pool:
        return list(pool.map(send, range(len(sends))))


def get_json(url: str, params: dict[str, str], token: str) -> object:
    answer = requests.get(url, params=params, headers={"Authorization": f"Bearer {token}"},
                          timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


CASES = [pytest.param(route, case, id=f"{route[0]} {route[1]} {case.name}")
         for route, cases in RACES.items() for case in cases]


@pytest.mark.parametrize(("route", "case"), CASES)
def test_racing_writes_keep_the_route_invariant(make_api_site, serve_app, route: tuple[str, str],
                                                case: Race, site_mode: str):
    site = make_api_site(**UNLIMITED, mode=site_mode)
    base = serve_app(site.app) + get_api(site.app).prefix
    token = issue_token(site, *create_key(site, "manager", case.scopes))
    with site.app.app_context():
        with site.kit.transaction():
            world = case.arrange(site)
        site.kit.session.remove()
    if case.prepare is not None:
        world = case.prepare(world, lambda path, params: get_json(base + path, params, token))

    answers = race(base, token, route[0], [case.send(world, n) for n in range(CLIENTS)])

    unexpected = [(a.status, a.code, a.body) for a in answers
                  if (a.status, a.code) not in case.answers]
    assert not unexpected, unexpected
    with site.app.app_context():
        try:
            case.check(site, world, answers)
        finally:
            site.kit.session.remove()
