"""`jomreskit responder --follow`: the case study's remote service reads the feed instead of
receiving webhooks, calls each event's callback_url, and resumes after a restart."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jomreskit_api_core.testing import create_key

from jomreskit.responder import ResponderConfig, StepLog, follow

JOMRESKIT = str(Path(sys.executable).with_name("jomreskit"))


class Follower:
    """The responder following the served site's feed in a thread, its steps recorded."""

    def __init__(self, feed, config: ResponderConfig) -> None:
        self.records: list[dict[str, Any]] = []
        log = StepLog()
        log.listeners.append(self.records.append)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=follow, args=(config, log, self.stop),
                                       kwargs={"wait": 1}, daemon=True)
        self.thread.start()

    def wait_for(self, check: Callable[[list[dict[str, Any]]], bool]) -> None:
        deadline = time.monotonic() + 20
        while not check(self.records):
            assert time.monotonic() < deadline, self.records[-5:]
            time.sleep(0.05)

    def handled(self, event_id: int) -> Callable[[list[dict[str, Any]]], bool]:
        """True once the event's callback was fetched and a later page acknowledged."""
        def check(records: list[dict[str, Any]]) -> bool:
            steps = [(r["step"], r.get("event_id")) for r in records]
            if ("callback", event_id) not in steps:
                return False
            return ("acknowledged", None) in steps[steps.index(("callback", event_id)):]
        return check

    def received(self) -> list[int]:
        return [r["event_id"] for r in self.records if r["step"] == "received"]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


def test_the_responder_follows_the_feed_and_resumes_after_a_restart(feed):
    client_id, secret = create_key(feed.site, "manager", ["events_get", "webhooks_get"])
    config = ResponderConfig(api_url=feed.base, client_id=client_id, client_secret=secret,
                             signing_secret="")
    follower = Follower(feed, config)
    first = feed.fire_note(41, "while following")
    follower.wait_for(follower.handled(first))
    follower.close()

    assert follower.received() == feed.event_ids({1, 2})  # every event, once, in order
    callback = next(r for r in follower.records
                    if r["step"] == "callback" and r["event_id"] == first)
    assert callback["ok"] and callback["status"] == 200
    assert callback["answer"]["data"]["contract_uid"] == 41

    second = feed.fire_note(42, "while the responder was down")
    restarted = Follower(feed, config)
    restarted.wait_for(restarted.handled(second))
    restarted.close()
    assert restarted.received() == [second]


def test_the_command_refuses_to_start_without_a_secret_or_follow(feed):
    result = feed.site.cli("responder", "--api-url", feed.base, "--client-id", "x",
                           "--client-secret", "y")
    assert result.exit_code != 0
    assert "--signing-secret" in result.output and "Traceback" not in result.output


def test_a_key_without_the_feed_scope_stops_the_follower_saying_which_scope(feed, tmp_path):
    client_id, secret = create_key(feed.site, "manager", ["webhooks_get"])
    environment = {k: v for k, v in os.environ.items() if not k.startswith("JOMRESKIT_")}
    environment["JOMRESKIT_INSTANCE_PATH"] = str(tmp_path / "responder")

    try:
        result = subprocess.run(
            [JOMRESKIT, "responder", "--follow", "--api-url", feed.base, "--client-id",
             client_id, "--client-secret", secret], env=environment, capture_output=True,
            text=True, timeout=60)
    except subprocess.TimeoutExpired as still_asking:
        raise AssertionError(f"still asking after a minute: {still_asking.stdout}") from None

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: the API key {client_id} lacks the scope events_get that GET "
        f"{feed.base}/events needs: give the key that scope (`jomreskit keys create ... "
        "--scope events_get --scope webhooks_get`, or tick it on the console's App Key "
        "Management page)")
    assert result.stdout.count("insufficient_scope") <= 1  # said once, not every 5 s
