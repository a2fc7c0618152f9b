"""Long polls cannot take the threads other requests need: waiting readers are capped per API
key (JOMRESKIT_EVENTS_WAITING_PER_KEY, default 2) and per server process
(JOMRESKIT_EVENTS_WAITING, default 4); beyond them, 429 too_many_waiting with Retry-After."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

import requests
from jomreskit_api_core.testing import auth, bearer_token
from jomreskit_api_feature_events import settings, wakeup

JOMRESKIT = str(Path(sys.executable).with_name("jomreskit"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(site) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOMRESKIT_")}
    env.update({key: str(site.kit.settings[key]) for key in (
        "JOMRESKIT_INSTANCE_PATH", "JOMRESKIT_DATABASE_URL", "JOMRESKIT_SECRET_KEY",
        "JOMRESKIT_PLUGINS_DIR")})
    return env


def _caught_up(base: str, token: str) -> str:
    after, page = None, {"data": [None]}
    while page["data"]:
        page = requests.get(f"{base}/events", params={"after": after} if after else {},
                            headers=auth(token), timeout=30).json()
        after = page["meta"]["next"]
    return after


def _answered(polls: list[Future], count: int) -> list[requests.Response]:
    """Wait until ``count`` of ``polls`` have answered; their answers."""
    deadline = time.monotonic() + 60
    while sum(p.done() for p in polls) < count and time.monotonic() < deadline:
        wait([p for p in polls if not p.done()], timeout=1, return_when=FIRST_COMPLETED)
    return [p.result() for p in polls if p.done()]


def _fire_note(site) -> None:
    from jomreskit.domain import services

    with site.app.app_context(), site.kit.transaction():
        services.save_note(site.kit, 41, "wakes the readers")


def test_one_key_holding_more_long_polls_than_its_cap_leaves_serve_threads_to_others(
        make_api_site):
    site = make_api_site()
    port = _free_port()
    server = subprocess.Popen([JOMRESKIT, "serve", "--port", str(port), "--no-worker"],
                              env=_environment(site), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)  # default threads: 8
    pool = ThreadPoolExecutor(12)
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", port)) and time.monotonic() < deadline:
            time.sleep(0.1)
        base = f"http://127.0.0.1:{port}/api"
        reader = bearer_token(site, "manager", ["events_get"])
        other_manager = bearer_token(site, "super", ["webhooks_get"])
        after = _caught_up(base, reader)

        # as many long polls as serve has threads, from one key
        polls = [pool.submit(requests.get, f"{base}/events", params={"after": after, "wait": 30},
                             headers=auth(reader), timeout=90) for _ in range(8)]
        refused = _answered(polls, 8 - settings.WAITING_PER_KEY)
        callback = requests.get(f"{base}/webhooks/1/booking_modified/41",
                                headers=auth(other_manager), timeout=90)
        still_waiting = sum(not p.done() for p in polls)
        _fire_note(site)
        woken = [p.result(timeout=60) for p in polls if p.result(timeout=60) not in refused]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        server.terminate()
        _, err = server.communicate(timeout=30)

    assert [(r.status_code, r.json()["error"]["code"], r.headers["Retry-After"])
            for r in refused] == [(429, "too_many_waiting", "5")] * 6, err
    assert callback.status_code == 200, callback.text
    assert still_waiting == settings.WAITING_PER_KEY  # answered while the key's polls waited
    assert [(r.status_code, len(r.json()["data"])) for r in woken] == [(200, 1)] * 2


def test_all_keys_together_wait_no_more_than_the_process_cap(make_api_site, serve_app):
    site = make_api_site(JOMRESKIT_EVENTS_WAITING=3)
    base = serve_app(site.app) + "/api"
    tokens = [bearer_token(site, "manager", ["events_get"]) for _ in range(2)]
    after = {token: _caught_up(base, token) for token in tokens}  # a cursor is its key's own
    waker = wakeup.waker(site.kit)
    pool = ThreadPoolExecutor(4)

    def poll(token: str) -> Future:
        return pool.submit(requests.get, f"{base}/events",
                           params={"after": after[token], "wait": 30},
                           headers=auth(token), timeout=90)

    try:
        first = [poll(tokens[0]) for _ in range(2)]
        deadline = time.monotonic() + 30
        while waker.waiting_readers < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        second = [poll(tokens[1]) for _ in range(2)]
        refused = _answered(second, 1)
        waiting = waker.waiting_readers
        _fire_note(site)
        woken = [p.result(timeout=60) for p in first + second if p.result() not in refused]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)

    assert [(r.status_code, r.json()["error"]["code"]) for r in refused] == [
        (429, "too_many_waiting")]
    assert "all API keys in this server process" in refused[0].json()["error"]["message"]
    assert waiting == 3
    assert [r.status_code for r in woken] == [200] * 3
    assert waker.waiting_readers == 0  # every place given back
