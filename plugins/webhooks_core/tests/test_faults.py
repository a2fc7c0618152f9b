"""Fault drills: receivers, workers and databases failing the way real ones do.

Each drill runs the worker as a site runs it (the thread inside `jomreskit serve`, or a
`jomreskit worker` process, for as long as the drill lasts), with real endpoints on loopback,
and asserts outcomes with generous bounds rather than tight timings.
"""

from __future__ import annotations

import collections
import os
import secrets
import signal
import socket
import threading
import time
from datetime import timedelta

import pytest
from jomreskit_webhooks_core.models import Delivery, DeliveryAttempt
from jomreskit_webhooks_core.worker import WorkerService
from sqlalchemy import create_engine, func, select, text

from jomreskit.core.db import utcnow

from .test_delivery import create, deliveries, fire
from .test_worker import count, fire_many, worker_process

pytestmark = pytest.mark.fault


class Stalling:
    """An endpoint that accepts every connection, reads the request, and then either
    trickles an endless answer a byte at a time (``trickle``) or says nothing (``hang``)."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.server = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/hook"
        self.requests = 0
        self._stop = threading.Event()
        self._connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self._connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            connection.recv(65536)
            self.requests += 1
            if self.how == "hang":
                self._stop.wait()
                return
            answer = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"." * 10_000_000
            for byte in answer:
                if self._stop.wait(0.5):
                    return
                connection.sendall(bytes([byte]))
        except OSError:
            return

    def close(self) -> None:
        self._stop.set()
        self.server.close()
        for connection in self._connections:
            connection.close()


@pytest.fixture
def stalling():
    made: list[Stalling] = []

    def make(how: str) -> Stalling:
        made.append(Stalling(how))
        return made[-1]

    yield make
    for endpoint in made:
        endpoint.close()


def serve_worker(site):
    """The worker thread `jomreskit serve` runs, started (other plugins' services left out)."""
    [service] = [s for s in site.kit.hooks.background_services(kit=site.kit)
                 if isinstance(s, WorkerService)]
    service.start()
    return service


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def attempts(site):
    with site.app.app_context(), site.kit.transaction() as session:
        return list(session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)))


def resent_without_cause(site, received):
    """The notifications a receiver got (``received``: its requests) more often than at least
    once explains, by ``webhook-id``: {id: times}. Delivery is at least once: an attempt that
    was not seen to succeed (cut off at its deadline after the receiver had the request, say)
    is made again, with the same id. So a notification may come once, plus once for each
    attempt at it that failed; more, or an id this site never sent, is a notification sent
    twice. Read once the worker has stopped, so that every attempt is recorded."""
    came = collections.Counter(r.headers["Webhook-Id"] for r in received)
    with site.app.app_context(), site.kit.transaction() as session:
        failed = dict(session.execute(
            select(Delivery.msg_id, func.count(DeliveryAttempt.id))
            .outerjoin(DeliveryAttempt, (DeliveryAttempt.delivery_id == Delivery.id)
                       & (DeliveryAttempt.error.is_not(None)))
            .where(Delivery.msg_id.in_(list(came))).group_by(Delivery.msg_id)).all())
    return {msg_id: n for msg_id, n in came.items()
            if msg_id not in failed or n > 1 + failed[msg_id]}


def first_arrivals(receiver):
    """When each note's notification first came ({note_id: time}); a resend comes later."""
    arrived = {}
    for request in list(receiver.deliveries):
        arrived.setdefault(request.json()["data"]["note_id"], request.at)
    return arrived


# -- 1. retries and expired claims on a quiet site -----------------------------------------


@pytest.mark.serial  # measures the idle worker's CPU and the retry's lateness: alone
def test_a_retry_is_sent_on_time_on_a_quiet_site_by_an_idle_worker_process(site, receiver):
    create(site, receiver.url + "/hook")
    receiver.answer(500, "not now")
    process = worker_process(site)
    try:
        fire(site)
        [first] = receiver.wait_for(1, timeout=30)
        time.sleep(0.5)  # the outcome is written; nothing else happens on this site
        [delivery] = deliveries(site)
        assert delivery.status == "pending" and delivery.attempts == 1
        due = delivery.next_attempt_at.timestamp()
        assert 3.9 <= due - first.at <= 6.5  # 5 s, give or take the schedule's jitter

        idle_from = cpu_seconds(process.pid)
        [_, second] = receiver.wait_for(2, timeout=15)
        idle_cpu = cpu_seconds(process.pid) - idle_from
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    late = second.at - due
    print(f"retry sent {late:+.2f} s from its due time; idle worker used {idle_cpu:.2f} s CPU")
    assert late < 1.5, f"the retry left {late:.2f} s after it was due"
    # About five idle seconds: a sleeping worker, not one that polls in a loop.
    assert idle_cpu < 0.5, f"the idle worker used {idle_cpu:.2f} s of CPU"
    [delivery] = deliveries(site)
    assert delivery.status == "succeeded" and delivery.attempts == 2


def test_retry_after_is_kept_by_the_worker_thread_of_serve(site, receiver):
    create(site, receiver.url + "/hook")
    receiver.answer(503, "busy", headers={"Retry-After": "2"})
    service = serve_worker(site)
    try:
        fire(site)
        [first, second] = receiver.wait_for(2, timeout=15)
    finally:
        service.stop()
    print(f"Retry-After: 2 kept: the retry came {second.at - first.at:.2f} s later")
    assert 1.8 <= second.at - first.at <= 3.5


def test_the_retry_delay_counts_from_the_end_of_the_attempt(make_webhook_site, stalling):
    site = make_webhook_site(JOMRESKIT_WEBHOOK_TIMEOUT=2)
    create(site, stalling("hang").url)
    fire(site)
    assert site.cli("worker", "--drain").exit_code == 0
    [attempt] = attempts(site)
    [delivery] = deliveries(site)
    assert attempt.error == "timed out: no complete answer within 2 s"
    ended = attempt.attempted_at + timedelta(milliseconds=attempt.duration_ms)
    # 5 s, give or take the schedule's 20 % jitter, after the 2 s the attempt took.
    assert timedelta(seconds=3.9) <= delivery.next_attempt_at - ended <= timedelta(seconds=6.1)


def test_a_killed_workers_claims_are_sent_when_their_lease_runs_out(site, receiver):
    create(site, receiver.url + "/hook")
    fire_many(site, 30)
    for _ in range(30):
        receiver.answer(200, "ok", delay=0.2)  # slow enough to be killed in the middle
    doomed = worker_process(site, "--concurrency", "4", JOMRESKIT_WEBHOOK_LEASE_SECONDS=3)
    receiver.wait_for(4, timeout=20)
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate(timeout=10)
    in_hand = {d.msg_id for d in deliveries(site) if d.status == "pending" and d.claim}
    assert in_hand, "the worker was killed with deliveries in hand"

    # A worker already running and idle: no event, no command wakes it, only the leases.
    survivor = worker_process(site, JOMRESKIT_WEBHOOK_LEASE_SECONDS=3)
    try:
        deadline = time.monotonic() + 60
        while count(site, "succeeded") < 30 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        survivor.send_signal(signal.SIGTERM)
        survivor.communicate(timeout=30)
    assert count(site, "succeeded") == 30
    sent = collections.Counter(r.headers["Webhook-Id"] for r in receiver.deliveries)
    assert len(sent) == 30
    repeated = {msg_id for msg_id, n in sent.items() if n > 1}
    print(f"killed with {len(in_hand)} in hand: 30 of 30 delivered, {len(repeated)} twice")
    assert repeated <= in_hand  # only deliveries whose outcome the dead worker never wrote


# -- 2. a stalled endpoint holds up nobody else ----------------------------------------------


# Alone: it times the healthy deliveries against 2 s, and a stalled endpoint may hold one for
# up to a second by design (until its attempts turn slow). Nothing sent twice is checked here
# and, beside the other tests, by the outage drills (test_outages.py).
@pytest.mark.serial
@pytest.mark.parametrize("how", ["trickle", "hang"])
def test_a_stalled_endpoint_never_holds_up_the_others(make_webhook_site, receiver, stalling,
                                                      how):
    site = make_webhook_site(JOMRESKIT_WEBHOOK_TIMEOUT=4)
    for _ in range(3):  # several stalled webhooks, each with a queue of its own
        create(site, stalling(how).url)
    # Notes only: the stalled webhooks' circuits may open meanwhile, an event of its own.
    create(site, receiver.url + "/hook", "--event", "booking_note_saved")
    service = serve_worker(site)
    fired = []
    try:
        for n in range(16):  # events over about 8 s: each goes to every webhook
            fired.append(time.time())
            fire(site, "booking_note_saved", property_uid=1, contract_uid=41, note_id=n + 1)
            time.sleep(0.5)
        deadline = time.monotonic() + 20
        while len(first_arrivals(receiver)) < 16 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        service.stop()
    arrived = first_arrivals(receiver)
    ended = attempts(site)
    assert sorted(arrived) == list(range(1, 17))
    # Counted by webhook-id, as a receiver drops repeats: once each, or again only after an
    # attempt that was not seen to succeed.
    assert resent_without_cause(site, receiver.deliveries) == {}
    waits = [arrived[n + 1] - fired[n] for n in range(16)]
    print(f"{how}: healthy deliveries waited at most {max(waits):.2f} s "
          f"(median {sorted(waits)[8]:.3f} s)")
    assert max(waits) < 2.0, f"healthy deliveries waited up to {max(waits):.1f} s"
    stalled = [a for a in ended if a.error]
    assert stalled, "the stalled endpoints were tried"
    for attempt in stalled:  # each cut off at its deadline, however the bytes came
        assert attempt.error == "timed out: no complete answer within 4 s"
        assert attempt.duration_ms < 6000


@pytest.mark.serial  # times the worker's stop against its deadline: alone
def test_sigterm_stops_a_worker_held_by_a_stalled_endpoint_within_the_deadline(
        make_webhook_site, receiver, stalling):
    site = make_webhook_site(JOMRESKIT_WEBHOOK_TIMEOUT=3)
    endpoint = stalling("trickle")
    create(site, endpoint.url)
    fire_many(site, 20)
    process = worker_process(site, "--concurrency", "2", JOMRESKIT_WEBHOOK_TIMEOUT=3)
    deadline = time.monotonic() + 20
    while endpoint.requests < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert endpoint.requests == 2  # both places of the worker are held by the endpoint
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    took = time.monotonic() - started
    print(f"SIGTERM to exit: {took:.1f} s (deadline 3 s)")
    assert process.returncode == 0
    assert took < 3 + 3, f"the worker took {took:.1f} s to stop"
    rows = deliveries(site)
    assert len(rows) == 20 and all(d.status == "pending" for d in rows)
    # Nothing waits out a lease: the unsent are due at once, the cut-off ones in about 5 s.
    assert all(d.claim is None for d in rows)
    assert max(d.next_attempt_at for d in rows) < utcnow() + timedelta(seconds=10)


def test_a_second_sigterm_exits_at_once_and_hands_everything_back(make_webhook_site, stalling):
    site = make_webhook_site()
    endpoint = stalling("hang")
    create(site, endpoint.url)
    fire_many(site, 10)
    process = worker_process(site, "--concurrency", "2")
    deadline = time.monotonic() + 20
    while endpoint.requests < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert process.poll() is None  # the first waits for the attempts under way (15 s)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=10)
    print(f"second SIGTERM to exit: {time.monotonic() - started:.2f} s")
    assert time.monotonic() - started < 2
    assert "handed back" in err and "Traceback" not in err
    rows = deliveries(site)
    assert all(d.status == "pending" and d.claim is None for d in rows)
    assert max(d.next_attempt_at for d in rows) <= utcnow()


# -- 3. workers outlive the database ---------------------------------------------------------


@pytest.mark.postgres
def test_a_worker_process_rides_out_its_connections_being_terminated(site, receiver):
    if site.kit.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL drill")
    create(site, receiver.url + "/hook")
    fire_many(site, 300)
    for _ in range(300):
        receiver.answer(200, "ok", delay=0.01)
    name = f"jk_drill_{secrets.token_hex(4)}"
    url = site.kit.engine.url.render_as_string(hide_password=False)
    named = site.kit.engine.url.update_query_dict({"application_name": name})
    process = worker_process(site, "--concurrency", "4",
                             JOMRESKIT_DATABASE_URL=named.render_as_string(hide_password=False))
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    terminated = 0
    try:
        def terminate() -> int:
            with admin.connect() as connection:
                return connection.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = :name"), {"name": name}).scalar()

        for target in (50, 150):  # a failover: every connection dropped at once
            receiver.wait_for(target, timeout=60)
            terminated += terminate()
        receiver.wait_for(200, timeout=60)
        outage = time.monotonic() + 5  # then a database that refuses the worker for a while
        while time.monotonic() < outage:
            terminated += terminate()
            time.sleep(0.1)
        deadline = time.monotonic() + 90
        while count(site, "succeeded") < 300 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert process.poll() is None, "the worker exited"
    finally:
        admin.dispose()
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    print(f"{terminated} connections terminated; worker up; {count(site, 'succeeded')} of 300 "
          f"delivered, {len(receiver.deliveries) - 300} sent twice")
    assert terminated >= 2
    assert count(site, "succeeded") == 300
    assert len({r.headers["Webhook-Id"] for r in receiver.deliveries}) == 300
    assert "lost the database" in err and "Traceback" not in err


@pytest.mark.postgres
def test_four_running_workers_share_one_outbox_without_a_duplicate(site, receiver):
    if site.kit.engine.dialect.name != "postgresql":
        pytest.skip("several workers share a queue on PostgreSQL")
    for n in range(5):
        create(site, f"{receiver.url}/hook{n}")
    processes = [worker_process(site, "--concurrency", "4") for _ in range(4)]
    try:
        for _ in range(20):  # events keep coming while the workers run
            fire_many(site, 20)
            time.sleep(0.1)
        deadline = time.monotonic() + 120
        while count(site, "succeeded") < 2000 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=30) for process in processes]
    assert count(site, "succeeded") == 2000
    sent = collections.Counter(r.headers["Webhook-Id"] for r in receiver.deliveries)
    assert len(sent) == 2000 and set(sent.values()) == {1}  # none lost, none twice
    shares = [int(out.split(" attempts")[0]) for out, _err in outputs]
    assert sum(shares) == 2000, shares


# -- 4. secrets every worker can read ------------------------------------------------------


def test_a_worker_without_the_sites_key_says_so_once_at_start_up(site, receiver):
    create(site, receiver.url + "/hook")
    fire(site)
    process = worker_process(site, JOMRESKIT_SECRET_KEY="another machine's own key")
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err.count("cannot decrypt") == 1 and "same JOMRESKIT_SECRET_KEY" in err
    assert "Traceback" not in err
    [delivery] = deliveries(site)
    assert delivery.status == "pending" and delivery.attempts == 0  # left for a worker that can
