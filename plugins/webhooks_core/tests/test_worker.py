"""Workers: woken by commits, sharing one queue across processes, losing nothing when killed."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from jomreskit_webhooks_core.models import Delivery
from jomreskit_webhooks_core.worker import LONGEST_SLEEP
from sqlalchemy import func, select

from .test_delivery import create, fire

JOMRESKIT = str(Path(sys.executable).parent / "jomreskit")


def site_env(site, **config):
    """The environment of a `jomreskit` process working on ``site``."""
    env = {**os.environ}
    for key, value in site.app.config.items():
        if key.startswith("JOMRESKIT_") and value is not None:
            env[key] = str(value)
    env.update({k: str(v) for k, v in config.items()})
    return env


def worker_process(site, *args, **config):
    """`jomreskit worker ARGS` in a process of its own, on the site's database."""
    return subprocess.Popen([JOMRESKIT, "worker", *args], env=site_env(site, **config),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def fire_many(site, events):
    with site.app.app_context(), site.kit.transaction():
        for n in range(events):
            site.kit.fire("booking_note_saved", property_uid=1, contract_uid=41, note_id=n + 1)


def count(site, status=None):
    with site.app.app_context(), site.kit.transaction() as session:
        query = select(func.count()).select_from(Delivery)
        if status:
            query = query.where(Delivery.status == status)
        return session.scalar(query)


def test_the_worker_thread_of_serve_is_woken_by_a_commit(site, receiver):
    create(site, receiver.url + "/hook")
    [service] = [s for s in site.kit.hooks.background_services(kit=site.kit)
                 if type(s).__module__.startswith("jomreskit_webhooks_core")]
    service.start()
    try:
        time.sleep(0.2)  # the worker is idle, waiting
        fire(site)
        # An idle worker that nothing woke would look again only after LONGEST_SLEEP.
        [got] = receiver.wait_for(1, timeout=LONGEST_SLEEP / 6)
        assert got.json()["type"] == "booking_modified"
    finally:
        service.stop()


def test_a_separate_worker_process_picks_up_new_deliveries_and_stops_on_sigterm(site, receiver):
    create(site, receiver.url + "/hook")
    process = worker_process(site)
    try:
        fire(site)
        receiver.wait_for(1, timeout=30)  # the worker is up
        time.sleep(0.5)  # and idle, waiting
        fire(site)
        assert len(receiver.wait_for(2, timeout=LONGEST_SLEEP / 6)) == 2  # woken, not polled

        # An event fired by yet another process (the CLI's fake webhook call).
        subprocess.run([JOMRESKIT, "events", "fire", "booking_cancelled", "property_uid=1",
                        "contract_uid=41"], env=site_env(site), check=True, capture_output=True)
        assert len(receiver.wait_for(3, timeout=LONGEST_SLEEP / 6)) == 3
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "3 attempts: 3 succeeded" in out


def test_several_worker_processes_send_each_delivery_exactly_once(site, receiver):
    webhooks = 20
    for n in range(webhooks):
        create(site, f"{receiver.url}/hook{n}")
    fire_many(site, 150)
    assert count(site) == 3000

    processes = [worker_process(site, "--drain", "--concurrency", "4") for _ in range(4)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs

    ids = collections.Counter(r.headers["Webhook-Id"] for r in receiver.deliveries)
    assert len(ids) == 3000
    assert set(ids.values()) == {1}  # no duplicate, none missing
    assert count(site, "succeeded") == 3000
    shares = [int(out.split(" attempts")[0]) for out, _err in outputs]
    assert sum(shares) == 3000


def test_once_makes_a_single_round(site, receiver):
    create(site, receiver.url + "/hook")
    fire_many(site, 50)
    result = site.cli("worker", "--once", "--concurrency", "2", "--json")
    # One claim: a webhook's share, its two places (concurrency 2) times four.
    assert '"attempts": 8' in result.output
    assert count(site, "pending") == 42
