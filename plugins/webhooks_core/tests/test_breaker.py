"""A webhook's circuit breaker as people meet it: what opens it, what the deliveries do
meanwhile, where its state and reason are shown, who is told, and the upgrade that adds it."""

from __future__ import annotations

import json
import re
import signal
import time
from datetime import timedelta

from alembic import command
from alembic.config import Config
from jomreskit_webhooks_core import breaker, register_migrations
from jomreskit_webhooks_core.models import Delivery, Webhook
from jomreskit_webhooks_core.sender import Job, Outcome
from jomreskit_webhooks_core.worker import InHand, Limits, _Done
from sqlalchemy import select, text, update

from jomreskit.console.testing import sign_in
from jomreskit.core import migrate
from jomreskit.db import utcnow
from jomreskit.domain import EventRecord

from .conftest import Receiver
from .test_delivery import _now_due, create, deliveries, drain, fire


def fire_notes(site, count):
    with site.app.app_context(), site.kit.transaction():
        for n in range(count):
            site.kit.fire("booking_note_saved", property_uid=1, contract_uid=41, note_id=n + 1)


def webhook(site, webhook_id):
    with site.app.app_context(), site.kit.transaction() as session:
        return session.get(Webhook, webhook_id)


def events(site):
    with site.app.app_context(), site.kit.transaction() as session:
        return [(e.name, e.ids) for e in session.scalars(
            select(EventRecord).where(EventRecord.name.like("webhook_%"))
            .order_by(EventRecord.id))]


OPENED_BY = re.compile(r"[5-8] attempts failed in a row; last error: HTTP 500")


def open_circuit(site, receiver, url="/broken"):
    """A webhook that answers 500 until its circuit opens, in one drain, with 12 deliveries
    queued; afterwards it answers 200."""
    broken = create(site, receiver.url + url, "--event", "booking_note_saved")
    for _ in range(12):
        receiver.answer(500, "database down")
    fire_notes(site, 12)
    drain(site)
    receiver.answers.clear()
    broken["tried"] = len(receiver.deliveries)
    return broken


def test_five_failures_in_a_row_open_the_circuit_and_the_rest_wait_untried(site, receiver):
    broken = open_circuit(site, receiver)

    found = webhook(site, broken["id"])
    assert found.circuit == "open"
    assert OPENED_BY.fullmatch(found.circuit_reason)
    assert timedelta(seconds=25) < found.circuit_until - utcnow() <= timedelta(seconds=30)
    # Five failures opened it; the attempts under way then (four at most) ended, and no
    # other was made: the rest wait, untried, not failed.
    tried = broken["tried"]
    assert 5 <= tried <= 8
    rows = deliveries(site)
    assert [d.attempts for d in rows] == [1] * tried + [0] * (12 - tried)
    assert all(d.status == "pending" for d in rows)
    _now_due(site)
    drain(site)  # due or not, nothing goes to an open circuit before its cool-off
    assert len(receiver.deliveries) == tried


def test_a_probe_after_the_cool_off_closes_the_circuit_and_the_queue_goes_out_in_order(
        site, receiver):
    broken = open_circuit(site, receiver)
    with site.app.app_context(), site.kit.transaction() as session:
        session.execute(update(Webhook).values(circuit_until=utcnow() - timedelta(seconds=1)))

    _now_due(site)  # the five tried ones' retries too
    # The probe (the oldest due), then everything waiting, oldest first (one at a time here).
    result = site.cli("worker", "--drain", "--concurrency", "1", "--json")
    assert json.loads(result.output)["succeeded"] == 12
    notes = [r.json()["data"]["note_id"] for r in receiver.deliveries[broken["tried"]:]]
    assert notes == list(range(1, 13))
    found = webhook(site, broken["id"])
    assert (found.circuit, found.circuit_opens, found.failing_since) == ("closed", 0, None)
    assert events(site) == [
        ("webhook_circuit_opened", {"manager_id": 1, "webhook_id": broken["id"]}),
        ("webhook_circuit_closed", {"manager_id": 1, "webhook_id": broken["id"]})]


def test_a_failed_probe_opens_the_circuit_again_for_twice_as_long(site, receiver):
    broken = open_circuit(site, receiver)
    with site.app.app_context(), site.kit.transaction() as session:
        session.execute(update(Webhook).values(circuit_until=utcnow() - timedelta(seconds=1)))
    receiver.answer(503, "still down")

    assert drain(site) == {"attempts": 1, "succeeded": 0, "retrying": 1, "failed": 0}
    found = webhook(site, broken["id"])
    assert (found.circuit, found.circuit_opens) == ("open", 2)
    assert found.circuit_reason == "the probe failed: HTTP 503"
    assert timedelta(seconds=55) < found.circuit_until - utcnow() <= timedelta(seconds=60)
    assert [name for name, _ in events(site)] == ["webhook_circuit_opened"]  # told once


def test_failures_spread_wider_than_the_window_do_not_open_it(site, receiver):
    hook = create(site, receiver.url + "/hook")
    for _ in range(6):
        receiver.answer(500)
        fire(site)
        drain(site)  # one attempt: the new delivery's
        with site.app.app_context(), site.kit.transaction() as session:  # an hour passes
            session.execute(update(Delivery).values(
                next_attempt_at=utcnow() + timedelta(hours=1)))
            session.execute(update(Webhook).values(
                circuit_counted_from=utcnow() - timedelta(hours=1)))
    found = webhook(site, hook["id"])
    assert (found.circuit, found.circuit_failures) == ("closed", 1)
    assert found.failing_since is not None


def test_the_managers_other_webhooks_are_told_and_no_one_elses(site, receiver, serve_app):
    elsewhere = Receiver()  # the broken webhook's receiver answers 500 for a while
    elsewhere.url = serve_app(elsewhere)
    other = create(site, elsewhere.url + "/other", "--event", "webhook_circuit_opened")
    with site.app.app_context(), site.kit.transaction():
        from jomreskit_webhooks_core import services

        from jomreskit.domain import services as domain

        domain.create_user(site.kit, "neighbour", property_uids=[1])
        services.create_webhook(site.kit, "neighbour", elsewhere.url + "/neighbour", "none")
    broken = open_circuit(site, receiver)
    drain(site)

    told = [r for r in elsewhere.deliveries if r.json()["type"] == "webhook_circuit_opened"]
    assert [r.path for r in told] == ["/other"]
    assert told[0].json()["data"] == {"manager_id": 1, "webhook_id": broken["id"],
                                      "task": "webhook_circuit_opened"}
    assert other["id"] != broken["id"]


def test_list_and_show_say_whether_it_sends_and_why_not(site, receiver):
    broken = open_circuit(site, receiver)

    [listed] = json.loads(site.cli("webhooks", "list", "--json").output)
    assert listed["circuit"]["state"] == "open"
    assert OPENED_BY.fullmatch(listed["circuit"]["reason"])
    table = site.cli("webhooks", "list").output
    assert re.search(r"open since \d{4}-\d\d-\d\d.*, probe after \d{4}-", table)
    shown = site.cli("webhooks", "show", str(broken["id"])).output
    assert "circuit: open since" in shown
    assert OPENED_BY.search(shown.split("circuit reason: ")[1])
    assert "whsec_" not in shown and "whsec_" not in table


def test_the_console_shows_a_paused_webhook_and_why(site, receiver):
    open_circuit(site, receiver)
    from jomreskit import create_app, get_kit

    config = {k: v for k, v in site.app.config.items() if k.startswith("JOMRESKIT_")}
    app = create_app({**config, "TESTING": True})
    client = app.test_client()
    sign_in(client, "manager")
    page = client.get("/console/webhooks/").text
    get_kit(app).engine.dispose()
    paused = re.search(r'<div class="flash flash-error circuit".*?</div>', page, re.S)[0]
    assert "Paused since" in paused
    assert OPENED_BY.search(paused)
    assert "none lost" in paused


def test_re_enabling_a_webhook_closes_its_circuit(site, receiver):
    broken = open_circuit(site, receiver)
    site.cli("webhooks", "update", str(broken["id"]), "--disable")
    site.cli("webhooks", "update", str(broken["id"]), "--enable")
    assert webhook(site, broken["id"]).circuit == "closed"
    _now_due(site)
    assert drain(site)["succeeded"] == 12


def test_a_webhook_failing_for_days_is_still_disabled_beside_the_breaker(site, receiver):
    broken = open_circuit(site, receiver)
    with site.app.app_context(), site.kit.transaction() as session:
        session.execute(update(Webhook).values(failing_since=utcnow() - timedelta(days=6),
                                               circuit_until=utcnow() - timedelta(seconds=1)))
    receiver.answer(500, "still broken")
    drain(site)  # the probe fails

    found = webhook(site, broken["id"])
    assert found.enabled is False
    assert found.disabled_reason.startswith("every delivery failed for 6.0 days")
    assert events(site)[-1] == ("webhook_disabled",
                                {"manager_id": 1, "webhook_id": broken["id"]})


def test_a_webhooks_events_are_in_the_catalog_with_a_callback(site):
    kit = site.kit
    assert {e.name for e in breaker.EVENTS} <= {t.name for t in kit.catalog}
    readers = {name for offered in kit.hooks.pm.hook.register_event_callbacks() for name in offered}
    assert all(e.name in readers for e in breaker.EVENTS)


# -- the migration that adds it ----------------------------------------------------------


def alembic_to(site, revision, direction):
    folder = register_migrations()
    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.ENVIRONMENT))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", folder)
    with site.kit.engine.begin() as connection:
        cfg.attributes.update(connection=connection,
                              version_table=migrate.version_table("webhooks_core"))
        getattr(command, direction)(cfg, revision)


def test_the_upgrade_fills_in_each_webhooks_host_and_closes_every_circuit(site):
    alembic_to(site, "0003", "downgrade")
    with site.kit.engine.begin() as connection:
        columns = connection.execute(text("SELECT * FROM webhooks")).keys()
        assert "host" not in columns and "circuit" not in columns
        for url in ["https://CM.example/hooks/a", "http://cm.example:8080/b",
                    "http://[2001:db8::1]/c"]:
            connection.execute(text(
                "INSERT INTO webhooks (manager_id, url, authmethod, settings, event_filter,"
                " property_filter, enabled, signing_secret, created_at, updated_at)"
                " VALUES (1, :url, 'none', '{}', '', '', :yes, 'x', :now, :now)"),
                {"url": url, "yes": True, "now": utcnow()})

    alembic_to(site, "head", "upgrade")

    with site.app.app_context(), site.kit.transaction() as session:
        found = {w.url: (w.host, w.circuit, w.circuit_failures)
                 for w in session.scalars(select(Webhook))}
    assert found == {"https://CM.example/hooks/a": ("cm.example:443", "closed", 0),
                     "http://cm.example:8080/b": ("cm.example:8080", "closed", 0),
                     "http://[2001:db8::1]/c": ("[2001:db8::1]:80", "closed", 0)}


def test_a_cooled_off_circuit_whose_deliveries_are_due_later_leaves_the_worker_idle(
        site, receiver):
    from .test_faults import cpu_seconds
    from .test_worker import worker_process

    broken = open_circuit(site, receiver)
    with site.app.app_context(), site.kit.transaction() as session:
        session.execute(update(Webhook).values(circuit_until=utcnow() - timedelta(seconds=1)))
        session.execute(update(Delivery).values(next_attempt_at=utcnow() + timedelta(hours=1)))
    process = worker_process(site)
    try:
        time.sleep(3)  # up, and idle
        idle_from = cpu_seconds(process.pid)
        time.sleep(3)
        idle_cpu = cpu_seconds(process.pid) - idle_from
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    print(f"idle worker beside a cooled-off circuit: {idle_cpu:.2f} s CPU in 3 s")
    # Asleep until a delivery is due, not looking for a probe again and again: a loop would
    # use about 3 s (an idle worker's own wake-up watcher uses some on this shared machine).
    assert idle_cpu < 1.5
    assert len(receiver.deliveries) == broken["tried"]
    assert webhook(site, broken["id"]).circuit == "open"  # no probe before one is due


def test_a_webhook_waits_until_every_failure_reported_is_recorded():
    """The worker's hold on a failing webhook, step by step: a failure reported while an
    earlier batch was being written keeps the webhook waiting, so past its threshold a
    circuit gets no more than the attempts that were under way."""
    limits = Limits(cap={"webhook": 4, "host": 8, "manager": 8},
                    share={"webhook": 16, "host": 16, "manager": 16})
    in_hand = InHand(places=4, limits=limits, threads=16)
    jobs = [Job(n, "claim", 7, f"msg_{n}", "booking_note_saved", "{}", 0) for n in range(8)]
    for job in jobs:
        in_hand.add(job, None)
    first = [job for job, _ in in_hand.take()]
    assert first == jobs[:4]

    def fail(job):
        outcome = Outcome(job, utcnow(), 5, status_code=500, retry_at=utcnow())
        in_hand.failing(job)
        in_hand.finished_then_next(job)
        return _Done(job, outcome)

    batch_one = [fail(first[0]), fail(first[1])]
    late = fail(first[2])  # reported while the loop writes the first two
    in_hand.recorded(batch_one)
    assert in_hand.take() == []  # held: one failure is not recorded yet
    in_hand.recorded([late])
    # Recorded: the webhook sends again, up to its cap less the attempt still under way.
    assert [job for job, _ in in_hand.take()] == jobs[4:7]
