"""A notification carries its callback URL whenever the site can know its address: an event
fired where the address is unknown (a command, a cron job, a script) gets the address of the
process that sends it, and only a notification really sent without one is warned about."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jomreskit_webhooks_core import message

JOMRESKIT = str(Path(sys.executable).with_name("jomreskit"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(site) -> dict[str, str]:
    settings = site.kit.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOMRESKIT_")}
    env.update({key: str(settings[key]) for key in (
        "JOMRESKIT_INSTANCE_PATH", "JOMRESKIT_DATABASE_URL", "JOMRESKIT_SECRET_KEY",
        "JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS")})
    return env


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_event_fired_by_a_command_reaches_the_remote_service_with_the_served_address(
        site, receiver):
    made = site.cli("webhooks", "create", "--manager", "manager", "--url", receiver.url + "/in",
                    "--authmethod", "none")
    assert made.exit_code == 0, made.output
    env, port = _environment(site), _free_port()
    served = subprocess.Popen([JOMRESKIT, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", port)) and time.monotonic() < deadline:
            time.sleep(0.1)

        fired = subprocess.run([JOMRESKIT, "events", "fire", "booking_modified",
                                "property_uid=1", "contract_uid=41"], env=env,
                               capture_output=True, text=True, timeout=60)
        delivered = receiver.wait_for(1, timeout=30)
    finally:
        served.terminate()
        out, err = served.communicate(timeout=30)

    assert fired.returncode == 0, fired.stderr
    assert len(delivered) == 1, err
    assert delivered[0].json()["callback_url"] == (
        f"http://127.0.0.1:{port}/api/webhooks/1/booking_modified/41")
    assert "callback_url" not in fired.stdout + fired.stderr + out + err


def test_a_site_relative_callback_is_completed_with_the_senders_address():
    payload = message.body("booking_modified", _now(), {"property_uid": 1, "contract_uid": 41},
                           3, "/api/webhooks/1/booking_modified/41")

    sent = json.loads(message.with_site_address(payload, "https://portal.example/"))

    assert sent["callback_url"] == "https://portal.example/api/webhooks/1/booking_modified/41"
    assert sent["data"] == {"property_uid": 1, "contract_uid": 41, "manager_id": 3,
                            "task": "booking_modified"}


def test_an_absolute_callback_is_sent_as_it_is():
    payload = message.body("booking_modified", _now(), {"property_uid": 1, "contract_uid": 41},
                           3, "https://portal.example/api/webhooks/1/booking_modified/41")

    assert message.with_site_address(payload, "http://127.0.0.1:8000") == payload


def test_only_a_notification_sent_without_any_address_is_warned_about(caplog):
    message._warn_no_site_address.cache_clear()
    payload = message.body("booking_modified", _now(), {"property_uid": 1, "contract_uid": 41},
                           3, "/api/webhooks/1/booking_modified/41")

    with caplog.at_level(logging.WARNING):
        sent = json.loads(message.with_site_address(payload, None))

    assert sent["callback_url"] is None
    assert "notifications go out without a callback_url" in caplog.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_seeding_the_demo_in_a_process_of_its_own_says_nothing_of_callback_urls(make_site):
    site = make_site()

    seeded = subprocess.run([JOMRESKIT, "demo", "seed"], env=_environment(site),
                            capture_output=True, text=True, timeout=60)

    assert seeded.returncode == 0, seeded.stderr
    assert "callback_url" not in seeded.stdout + seeded.stderr


def _now():
    from jomreskit.core.db import utcnow

    return utcnow()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_of_its_own_uses_the_address_serve_recorded(site, receiver):
    site.cli("webhooks", "create", "--manager", "manager", "--url", receiver.url + "/in",
             "--authmethod", "none")
    env, port = _environment(site), _free_port()
    served = subprocess.Popen([JOMRESKIT, "serve", "--port", str(port), "--no-worker"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", port)) and time.monotonic() < deadline:
            time.sleep(0.1)
        fired = subprocess.run([JOMRESKIT, "events", "fire", "booking_modified",
                                "property_uid=1", "contract_uid=41"], env=env,
                               capture_output=True, text=True, timeout=60)
        drained = subprocess.run([JOMRESKIT, "worker", "--drain"], env=env,
                                 capture_output=True, text=True, timeout=60)
    finally:
        served.terminate()
        served.communicate(timeout=30)

    assert fired.returncode == 0 and drained.returncode == 0, fired.stderr + drained.stderr
    delivered = receiver.wait_for(1, timeout=10)
    assert delivered[0].json()["callback_url"] == (
        f"http://127.0.0.1:{port}/api/webhooks/1/booking_modified/41")
    assert "callback_url" not in drained.stderr
