"""Receiver hosts going down: a stalled host or manager never starves the others, and a dead
webhook's circuit opens, probes, and closes again with nothing lost and nothing sent twice.

The drills run the worker as a site runs it (the thread of `jomreskit serve`, or a `jomreskit
worker` process) against endpoints on their own loopback addresses, and assert an order of
events rather than a time: the seconds are printed by ``bench/outage.py``.
"""

from __future__ import annotations

import collections
import signal
import time

import pytest
from jomreskit_webhooks_core import services
from jomreskit_webhooks_core.models import Delivery, DeliveryAttempt, Webhook
from jomreskit_webhooks_core.sender import Job, Target
from jomreskit_webhooks_core.testing import Endpoint
from jomreskit_webhooks_core.worker import InHand, Limits
from sqlalchemy import select

from jomreskit.domain import EventRecord
from jomreskit.domain import services as domain

from .test_faults import resent_without_cause, serve_worker
from .test_worker import worker_process

pytestmark = pytest.mark.fault


@pytest.fixture
def endpoint():
    """Receivers on loopback addresses of their own (``testing.Endpoint``), closed after."""
    made: list[Endpoint] = []

    def make(address: str, how: str) -> Endpoint:
        made.append(Endpoint(address, how))
        return made[-1]

    yield make
    for found in made:
        found.close()


def managers_with_webhooks(site, plan):
    """Create each manager of ``plan`` ({username: [url, ...]}), linked to property 1, with a
    webhook to each URL."""
    with site.app.app_context(), site.kit.transaction():
        for username, urls in plan.items():
            domain.create_user(site.kit, username, property_uids=[1])
            for url in urls:
                services.create_webhook(site.kit, username, url, "none")


def fire_note(site, note_id):
    with site.app.app_context(), site.kit.transaction():
        site.kit.fire("booking_note_saved", property_uid=1, contract_uid=41, note_id=note_id)


def timed_out(site):
    """Attempts cut off at their deadline so far."""
    with site.app.app_context(), site.kit.transaction() as session:
        return list(session.scalars(select(DeliveryAttempt).where(
            DeliveryAttempt.error.like("timed out%"))))


class Running:
    """The worker as a site runs it: `serve`'s thread or a `jomreskit worker` process."""

    def __init__(self, site, how, **config):
        self.how = how
        if how == "serve":
            self.service = serve_worker(site)
        else:
            self.process = worker_process(site, **config)

    def stop(self):
        if self.how == "serve":
            self.service.stop()
            return ""
        self.process.send_signal(signal.SIGTERM)
        _out, err = self.process.communicate(timeout=60)
        return err


# -- a stalled host or manager holds only its own share ------------------------------------


def healthy_while_stalled(site, how, receiver, stalled, events=12):
    """Fire ``events`` events for every webhook, one each 0.25 s, with the worker running;
    return the healthy notifications and the attempts cut off by then."""
    worker = Running(site, how)
    try:
        deadline = time.monotonic() + 60
        while sum(e.connections for e in stalled) == 0 and time.monotonic() < deadline:
            fire_note(site, 1000)  # until the stalled hosts hold connections: the worker is up
            time.sleep(0.5)
        for n in range(1, events + 1):
            fire_note(site, n)
            time.sleep(0.25)
        deadline = time.monotonic() + 60
        while len(healthy_notes(receiver)) < events and time.monotonic() < deadline:
            time.sleep(0.02)
        got = healthy_notes(receiver)
        cut_off = timed_out(site)
    finally:
        err = worker.stop()
    assert "Traceback" not in err
    # Nothing sent twice: a notification that came again came after an attempt at it that
    # did not succeed (at least once; none here, as nothing reached its deadline).
    assert resent_without_cause(site, receiver.deliveries) == {}
    return got, cut_off


def healthy_notes(receiver):
    return sorted(n for n in {r.json()["data"]["note_id"] for r in receiver.deliveries}
                  if n < 1000)


@pytest.mark.parametrize("how", ["serve", "process"])
def test_twenty_webhooks_on_one_trickling_host_leave_the_others_flowing(
        make_webhook_site, receiver, endpoint, how):
    site = make_webhook_site(JOMRESKIT_WEBHOOK_TIMEOUT=10)
    host = endpoint("127.0.0.2", "trickle")
    urls = [f"{host.url}/hook/{n}" for n in range(20)]
    managers_with_webhooks(site, {"cm_customer_a": urls[:10], "cm_customer_b": urls[10:],
                                  "healthy": [receiver.url + "/hook"]})

    got, cut_off = healthy_while_stalled(site, how, receiver, [host])

    # Every healthy notification arrived while the host still held every attempt it was sent
    # (none had reached its deadline): nothing waited for a thread the host held.
    assert got == list(range(1, 13))
    assert cut_off == []
    # The host never had more than its cap of a worker's attempts (8), for 20 webhooks.
    print(f"{how}: the trickling host held {host.most_open} connections at most, "
          f"{host.connections} in all")
    assert 4 <= host.most_open <= 8


@pytest.mark.parametrize("how", ["serve", "process"])
def test_two_dead_hosts_at_once_leave_the_others_flowing(make_webhook_site, receiver, endpoint,
                                                         how):
    site = make_webhook_site(JOMRESKIT_WEBHOOK_TIMEOUT=10)
    trickling, hanging = endpoint("127.0.0.2", "trickle"), endpoint("127.0.0.3", "hang")
    managers_with_webhooks(site, {
        "cm_customer_a": [f"{trickling.url}/hook/{n}" for n in range(10)],
        "cm_customer_b": [f"{hanging.url}/hook/{n}" for n in range(10)],
        "healthy": [receiver.url + "/hook"]})

    got, cut_off = healthy_while_stalled(site, how, receiver, [trickling, hanging])

    assert got == list(range(1, 13))
    assert cut_off == []
    print(f"{how}: the dead hosts held {trickling.most_open} and {hanging.most_open} "
          "connections at most")
    assert 4 <= trickling.most_open <= 8 and 4 <= hanging.most_open <= 8


def test_a_manager_whose_every_host_stalls_holds_only_the_managers_share(
        make_webhook_site, receiver, endpoint):
    site = make_webhook_site(JOMRESKIT_WEBHOOK_TIMEOUT=10)
    hosts = [endpoint(f"127.0.0.{n + 2}", "hang") for n in range(5)]
    managers_with_webhooks(site, {
        "cm_customer": [f"{host.url}/hook/{n}" for host in hosts for n in range(2)],
        "healthy": [receiver.url + "/hook"]})

    got, cut_off = healthy_while_stalled(site, "serve", receiver, hosts)

    assert got == list(range(1, 13))
    assert cut_off == []
    # No attempt ended meanwhile, so what each host held at most it held at the end, at once.
    most = [host.most_open for host in hosts]
    print(f"one manager's five hung hosts held {most} connections at most")
    assert 12 <= sum(most) <= 16  # the manager's cap, of 32 threads; 5 hosts' caps are 40


# -- the circuit breaker -------------------------------------------------------------------


def webhook_row(site, webhook_id):
    with site.app.app_context(), site.kit.transaction() as session:
        return session.get(Webhook, webhook_id)


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def of_type(endpoint, event):
    """The notifications of ``event`` an endpoint answered 200."""
    bodies = [answered.json() for answered in list(endpoint.answered)]
    return [body for body in bodies if body["type"] == event]


def events_named(site, *names):
    with site.app.app_context(), site.kit.transaction() as session:
        return list(session.scalars(select(EventRecord).where(EventRecord.name.in_(names))
                                    .order_by(EventRecord.id)))


QUEUED = 200  # deliveries waiting for the dead receiver, as in bench/outage.py's dead drill


@pytest.mark.parametrize("how", ["serve", "process"])
def test_a_dead_receivers_circuit_opens_probes_and_closes_with_nothing_lost(
        make_webhook_site, endpoint, how):
    config = {"JOMRESKIT_WEBHOOK_TIMEOUT": 1, "JOMRESKIT_WEBHOOK_BREAKER_COOLOFF": 2}
    site = make_webhook_site(**config)
    dead = endpoint("127.0.0.4", "hang")
    managers_with_webhooks(site, {"cm_customer": [dead.url + "/hook"]})
    with site.app.app_context(), site.kit.transaction() as session:
        [webhook_id] = session.scalars(select(Webhook.id))
        for n in range(QUEUED):
            site.kit.fire("booking_note_saved", property_uid=1, contract_uid=41, note_id=n + 1)

    worker = Running(site, how, **config)
    try:
        wait_until(lambda: webhook_row(site, webhook_id).circuit == "open")
        opened = webhook_row(site, webhook_id)
        tried_before = dead.connections
        # The first probe comes after the 2 s cool-off, fails (1 s), and the circuit opens
        # again for 4 s: one connection in all while it is open, then the second probe.
        wait_until(lambda: webhook_row(site, webhook_id).circuit_opens == 2)
        assert dead.connections == tried_before + 1
        dead.answer_again()
        wait_until(lambda: webhook_row(site, webhook_id).circuit == "closed", timeout=30)
        wait_until(lambda: len(of_type(dead, "booking_note_saved")) == QUEUED)

        def recorded() -> list[Delivery]:
            # The worker records an attempt once its answer is in: the last ones a moment
            # after the receiver has seen them.
            with site.app.app_context(), site.kit.transaction() as session:
                return list(session.scalars(select(Delivery).where(
                    Delivery.event_type == "booking_note_saved").execution_options(
                        populate_existing=True)))

        wait_until(lambda: all(d.status == "succeeded" for d in recorded()))
        rows = recorded()
    finally:
        err = worker.stop()
    assert "Traceback" not in err

    # Five failures in a row opened it: the attempts already under way (four to one
    # webhook) ended, and no other was started.
    print(f"{how}: {tried_before} attempts before the circuit opened; then one probe")
    assert 5 <= tried_before <= 8
    counted = int(opened.circuit_reason.split(" attempts failed in a row; last error: ")[0])
    assert 5 <= counted <= tried_before
    assert opened.circuit_reason.endswith("timed out: no complete answer within 1 s")
    # Nothing lost, nothing twice; the deliveries that waited were not counted as tried.
    notes = [body["data"]["note_id"] for body in of_type(dead, "booking_note_saved")]
    assert sorted(notes) == list(range(1, QUEUED + 1))
    assert all(d.status == "succeeded" for d in rows)
    assert collections.Counter(d.attempts for d in rows)[1] >= QUEUED - tried_before - 2
    assert sum(d.attempts for d in rows) == QUEUED + tried_before + 1  # + the failed probe
    # The manager's webhooks (here the same one, once it answered) and the event feed were
    # told, in order.
    told = events_named(site, "webhook_circuit_opened", "webhook_circuit_closed")
    assert [(e.name, e.ids) for e in told] == [
        ("webhook_circuit_opened", {"manager_id": opened.manager_id, "webhook_id": webhook_id}),
        ("webhook_circuit_closed", {"manager_id": opened.manager_id, "webhook_id": webhook_id})]
    assert [len(of_type(dead, "webhook_circuit_opened")),
            len(of_type(dead, "webhook_circuit_closed"))] == [1, 1]


def test_a_freed_place_goes_first_to_the_destination_with_the_least_under_way():
    """The worker's hand-out step by step: when a place frees while a stalled host still has
    attempts under way and more queued, the healthy endpoint's delivery takes it, whichever
    webhook waited first."""
    limits = Limits(cap={"webhook": 4, "host": 8, "manager": 16},
                    share={"webhook": 16, "host": 32, "manager": 64})
    in_hand = InHand(places=2, limits=limits, threads=8)

    def target(webhook_id, host, manager_id):
        return Target(webhook_id, f"http://{host}/", True, None, "none", {}, "secret",
                      host=host, manager_id=manager_id)

    def job(number, webhook_id):
        return Job(number, "claim", webhook_id, f"msg_{number}", "booking_note_saved", "{}", 0)

    stalled = [(job(n, 1 + n % 2), target(1 + n % 2, "cm.example:80", 1)) for n in range(6)]
    for queued in stalled:
        in_hand.add(*queued)
    under_way = in_hand.take()
    assert len(under_way) == 2  # both places: the stalled host's
    in_hand.add(job(99, 3), target(3, "pms.example:80", 2))  # the healthy one comes last

    # An attempt ends: its thread takes the next delivery.
    taken, _target = in_hand.finished_then_next(under_way[0][0])
    assert taken.webhook_id == 3
