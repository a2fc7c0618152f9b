"""Pausing a webhook: events keep being queued and nothing is sent, by any worker, even one
started after the pause; resumed, the backlog goes out in order, each delivery once; the
paused time counts against neither the automatic disable nor the circuit breaker."""

from __future__ import annotations

import collections
import json
import signal
import time
from datetime import timedelta

from jomreskit_webhooks_core.models import Delivery, Webhook
from sqlalchemy import select, update

from jomreskit.console.testing import sign_in, token_in
from jomreskit.db import utcnow

from .test_console_webhooks import console_site  # noqa: F401 - a fixture
from .test_delivery import create, drain
from .test_worker import fire_many, worker_process

QUIET = 2.0  # seconds a paused webhook is watched for a delivery that should not come


def notes(received):
    return [r.json()["data"]["note_id"] for r in received]


def pending(site, webhook_id):
    with site.app.app_context(), site.kit.transaction() as session:
        return list(session.scalars(select(Delivery).where(
            Delivery.webhook_id == webhook_id, Delivery.status == "pending")))


def cli_json(site, *args):
    result = site.cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def stop(process):
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return out


def test_paused_it_queues_and_sends_nothing_resumed_it_sends_the_backlog_in_order(site, receiver):
    # One attempt at a time to the endpoint: the order of arrival is the order of sending.
    webhook = create(site, receiver.url + "/hook")
    process = worker_process(site, JOMRESKIT_WEBHOOK_ENDPOINT_CONCURRENCY=1)
    try:
        fire_many(site, 1)
        receiver.wait_for(1, timeout=30)  # the worker is up

        paused = cli_json(site, "webhooks", "pause", str(webhook["id"]))
        assert paused["paused_at"] is not None
        fire_many(site, 6)
        time.sleep(QUIET)
        assert len(receiver.deliveries) == 1  # nothing sent while paused
        waiting = pending(site, webhook["id"])
        assert len(waiting) == 6  # but everything queued, no attempt counted
        assert {d.attempts for d in waiting} == {0}

        shown = cli_json(site, "webhooks", "show", str(webhook["id"]))
        assert shown["paused_at"] == paused["paused_at"]
        table = site.cli("webhooks", "list").output
        assert f"since {paused['paused_at']}" in table

        resumed = cli_json(site, "webhooks", "resume", str(webhook["id"]))
        assert resumed["paused_at"] is None and resumed["pending"] == 6
        received = receiver.wait_for(7, timeout=10)  # woken by the resume, not polled
    finally:
        out = stop(process)
    assert notes(received) == [1, 1, 2, 3, 4, 5, 6]  # fire_many numbers from 1 each time
    assert len({r.headers["Webhook-Id"] for r in received}) == 7  # each once
    assert "7 attempts: 7 succeeded" in out


def test_a_pause_is_seen_by_every_worker_and_survives_a_restart(site, receiver):
    webhook = create(site, receiver.url + "/hook")
    other = create(site, receiver.url + "/other")  # not paused: its deliveries still go
    first = worker_process(site)
    second = None
    try:
        fire_many(site, 1)
        receiver.wait_for(2, timeout=30)  # the worker is up
        site.cli("webhooks", "pause", str(webhook["id"]))

        # The worker that saw the pause stops; another starts, and one more beside it.
        stop(first)
        first = worker_process(site)
        second = worker_process(site)
        fire_many(site, 5)
        received = receiver.wait_for(7, timeout=30)  # the other webhook's five arrive
        time.sleep(QUIET)
        assert [r.path for r in receiver.deliveries[2:]] == ["/other"] * 5
        assert len(pending(site, webhook["id"])) == 5

        site.cli("webhooks", "resume", str(webhook["id"]))
        received = receiver.wait_for(12, timeout=15)
        time.sleep(0.5)  # a delivery sent twice would arrive about now
    finally:
        outputs = [stop(p) for p in (first, second) if p is not None]
    to_paused = [r for r in receiver.deliveries if r.path == "/hook"]
    assert sorted(notes(to_paused)) == [1, 1, 2, 3, 4, 5]
    ids = collections.Counter(r.headers["Webhook-Id"] for r in receiver.deliveries)
    assert len(ids) == 12 and set(ids.values()) == {1}  # none lost, none twice
    assert other["id"] != webhook["id"] and len(received) == 12
    assert sum(int(out.split(" attempts")[0]) for out in outputs) == 10  # after the restart


def test_the_paused_time_counts_against_neither_the_disable_nor_the_breaker(site, receiver):
    webhook = create(site, receiver.url + "/hook")
    site.cli("webhooks", "pause", str(webhook["id"]))
    # It had been failing for four days when it was paused, a week ago.
    now = utcnow()
    with site.app.app_context(), site.kit.transaction() as session:
        session.execute(update(Webhook).where(Webhook.id == webhook["id"]).values(
            paused_at=now - timedelta(days=7), failing_since=now - timedelta(days=11),
            circuit_failures=3, circuit_counted_from=now - timedelta(days=7, seconds=20)))
    fire_many(site, 1)
    assert drain(site)["attempts"] == 0  # paused: not attempted, so not failed either

    site.cli("webhooks", "resume", str(webhook["id"]))
    with site.app.app_context(), site.kit.transaction() as session:
        resumed = session.get(Webhook, webhook["id"])
        failing_for = utcnow() - resumed.failing_since
        assert timedelta(days=4) <= failing_for < timedelta(days=4, minutes=1)
        assert utcnow() - resumed.circuit_counted_from < timedelta(seconds=30)

    receiver.answer(500)  # one more failure: four days and a moment, not eleven
    assert drain(site) == {"attempts": 1, "succeeded": 0, "retrying": 1, "failed": 0}
    shown = cli_json(site, "webhooks", "show", str(webhook["id"]))
    assert shown["enabled"] is True, shown["disabled_reason"]
    assert shown["circuit"]["state"] == "closed"  # 4 failures counted in the window, not 5


def test_pausing_twice_keeps_the_first_time_and_resuming_an_active_one_changes_nothing(site):
    webhook = create(site, "http://127.0.0.1:9/hook")
    first = cli_json(site, "webhooks", "pause", str(webhook["id"]))["paused_at"]
    assert cli_json(site, "webhooks", "pause", str(webhook["id"]))["paused_at"] == first
    cli_json(site, "webhooks", "resume", str(webhook["id"]))
    again = cli_json(site, "webhooks", "resume", str(webhook["id"]))
    assert again["paused_at"] is None and again["pending"] == 0
    missing = site.cli("webhooks", "pause", "999")
    assert missing.exit_code != 0 and "no webhook 999" in missing.output


def test_the_owner_pauses_and_resumes_in_the_console_and_no_one_else_can(console_site):  # noqa: F811
    site = console_site
    webhook = create(site, "http://127.0.0.1:9/hook")
    owner = site.client()
    sign_in(owner, "manager")
    page = owner.get("/console/webhooks/")
    assert f'aria-label="Pause webhook {webhook["id"]}"' in page.get_data(as_text=True)

    stranger = site.client()
    sign_in(stranger, "manager2")
    listing = stranger.get("/console/webhooks/")
    answer = stranger.post(f"/console/webhooks/{webhook['id']}/pause",
                           data={"csrf_token": token_in(listing)}, follow_redirects=True)
    assert f"no webhook {webhook['id']}" in answer.get_data(as_text=True)
    assert cli_json(site, "webhooks", "show", str(webhook["id"]))["paused_at"] is None

    answer = owner.post(f"/console/webhooks/{webhook['id']}/pause",
                        data={"csrf_token": token_in(page)}, follow_redirects=True)
    text = answer.get_data(as_text=True)
    assert f"Webhook {webhook['id']} paused" in text
    assert f'id="webhook-{webhook["id"]}-paused"' in text
    assert f'aria-label="Resume webhook {webhook["id"]}"' in text
    assert cli_json(site, "webhooks", "show", str(webhook["id"]))["paused_at"] is not None

    answer = owner.post(f"/console/webhooks/{webhook['id']}/resume",
                        data={"csrf_token": token_in(answer)}, follow_redirects=True)
    assert f"Webhook {webhook['id']} resumed" in answer.get_data(as_text=True)
    assert cli_json(site, "webhooks", "show", str(webhook["id"]))["paused_at"] is None
