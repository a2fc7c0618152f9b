"""Workers: claim due deliveries, send them through a bounded thread pool, record the outcome.

One loop per worker claims a batch of due rows in one short transaction (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so any number of workers share the queue; on SQLite the transaction
holds the write lock, which serialises claims), hands them to the sending threads, and writes
the outcomes of finished attempts in batches: one transaction updates the deliveries and logs
the attempts. A claim is a lease: the row's ``next_attempt_at`` moves forward by the lease, so
if the worker dies, the row is due again when the lease runs out and another worker sends it.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import bindparam, delete, event, func, literal_column, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import scoped_session

from jomreskit import db
from jomreskit.db import make_engine, make_session, utcnow

from . import batch, config, settings, wakeup
from .models import FAILED, PENDING, SUCCEEDED, Delivery, DeliveryAttempt, Webhook
from .sender import Job, Outcome, Sender, Target

if TYPE_CHECKING:
    from jomreskit import Kit

log = logging.getLogger("jomreskit.webhooks")

DELIVERIES = Delivery.__table__
ATTEMPTS = DeliveryAttempt.__table__
LONGEST_SLEEP = 30.0  # an idle worker looks again at least this often
PRUNE_EVERY = 3600.0


@dataclass
class Stats:
    """What a worker did: attempts made and how they ended."""

    succeeded: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0

    @property
    def attempts(self) -> int:
        return self.succeeded + self.retrying + self.failed

    def as_dict(self) -> dict[str, int]:
        return {"attempts": self.attempts, "succeeded": self.succeeded,
                "retrying": self.retrying, "failed": self.failed}


@dataclass
class _Done:
    job: Job
    outcome: Outcome | None  # None: released unsent because the worker is stopping


@dataclass
class _Cache:
    targets: dict[tuple[int, datetime], Target] = field(default_factory=dict)


class Worker:
    """A delivery worker for one site. ``run()`` in a thread or process; ``stop()`` from any."""

    def __init__(self, kit: Kit, concurrency: int | None = None) -> None:
        self.kit = kit
        self.concurrency = max(
            1, int(concurrency or config.get(kit, "JOMRESKIT_WEBHOOK_CONCURRENCY")))
        self.lease = timedelta(seconds=config.number(kit, "JOMRESKIT_WEBHOOK_LEASE_SECONDS"))
        timeout = config.number(kit, "JOMRESKIT_WEBHOOK_TIMEOUT")
        # Enough rows in hand to keep every thread busy while the loop writes and claims, but
        # no more than the threads can surely send (two timeouts each: a token fetch, the
        # event) before the lease runs out.
        depth = int(self.lease.total_seconds() // (2 * timeout + 1))
        self.batch = self.concurrency * max(1, min(8, depth))
        self.disable_after = timedelta(
            days=config.number(kit, "JOMRESKIT_WEBHOOK_DISABLE_AFTER_DAYS"))
        self.retention = timedelta(days=config.number(kit, "JOMRESKIT_WEBHOOK_RETENTION_DAYS"))
        self.sender = Sender(config.site_guard(kit),
                             config.number(kit, "JOMRESKIT_WEBHOOK_CONNECT_TIMEOUT"),
                             config.number(kit, "JOMRESKIT_WEBHOOK_TIMEOUT"))
        self.waker = wakeup.waker(kit)
        self.stats = Stats()
        self._stopping = threading.Event()
        self._cache = _Cache()
        self._pruned_at = 0.0
        self._stamp = batch.stamp(kit.engine.dialect)
        self._failing: set[int] = set()  # webhooks whose failing_since is set, as last seen
        self._sessions: scoped_session | None = None
        self._engine: Engine | None = None

    # -- the database --------------------------------------------------------------------

    @contextmanager
    def _transaction(self, autocommit: bool = False) -> Iterator[Any]:
        """The worker's session, committed at the end; with ``autocommit``, each statement
        commits by itself (a claim is one atomic UPDATE ... RETURNING), which spares the
        BEGIN and COMMIT round trips between a fired event and its sending."""
        if self._sessions is None:
            self._sessions, self._engine = _worker_sessions(self.kit)
        session = self._sessions()
        if autocommit:
            db.autocommit(session)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    def close(self) -> None:
        """Let go of the worker's connections and HTTP sessions."""
        self.sender.close()
        if self._sessions is not None:
            self._sessions.remove()
        if self._engine is not None:
            self._engine.dispose()
        self._sessions = self._engine = None

    # -- the loop ------------------------------------------------------------------------

    def stop(self) -> None:
        """Finish the attempts under way, hand back the rest, and return from ``run()``."""
        self._stopping.set()
        self.waker.set()

    def run(self, mode: str = "forever") -> Stats:
        """Deliver until stopped (``forever``), for one claim (``once``), or until nothing is due
        now (``drain``; retries scheduled for later stay queued)."""
        watcher = wakeup.Watcher(self.kit, self.waker) if mode == "forever" else None
        if watcher:
            watcher.start()
        done: queue.SimpleQueue[_Done] = queue.SimpleQueue()
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="jomreskit-delivery")
        in_flight = 0
        more = True  # whether the last claim may have left due rows behind
        claims = 0
        try:
            while True:
                stopping = self._stopping.is_set()
                if mode == "forever" and not more and not stopping:
                    more = self.waker.wait(0)
                if more and not stopping and in_flight <= self.batch // 2 and (
                        mode != "once" or claims == 0):
                    wanted = self.batch - in_flight
                    jobs, targets = self.claim(wanted)
                    claims += 1
                    more = len(jobs) == wanted
                    if len(jobs) == 1 and not in_flight:
                        # A lone delivery to an idle worker: send it from here, sparing a
                        # hand-off to a sending thread (the latency of a single event).
                        self._attempt(jobs[0], targets.get(jobs[0].webhook_id), done)
                    else:
                        for job in jobs:
                            pool.submit(self._attempt, job, targets.get(job.webhook_id), done)
                    in_flight += len(jobs)
                if in_flight:
                    finished = self._collect(done, in_flight)
                    in_flight -= len(finished)
                    self.record(finished)
                    continue
                if stopping or mode == "once" or (mode == "drain" and not more):
                    break
                if mode == "forever" and not more:
                    self._maybe_prune()
                    more = self.waker.wait(self._idle_seconds())
        finally:
            pool.shutdown(wait=True)
            if watcher:
                watcher.stop()
            self.close()
        return self.stats

    def _attempt(self, job: Job, target: Target | None, done: queue.SimpleQueue[_Done]) -> None:
        outcome = None
        try:
            if not self._stopping.is_set():
                outcome = self.sender.attempt(job, target)
        finally:
            done.put(_Done(job, outcome))

    def _collect(self, done: queue.SimpleQueue[_Done], in_flight: int) -> list[_Done]:
        """Wait for a finished attempt, then gather more for up to 20 ms (half a batch at
        most), so outcomes are written in batches without holding any back long."""
        finished = [done.get()]
        enough = min(in_flight, max(1, self.batch // 2))
        deadline = time.monotonic() + 0.02
        while len(finished) < enough:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                finished.append(done.get(timeout=remaining))
            except queue.Empty:
                break
        while len(finished) < in_flight:  # whatever else is already there
            try:
                finished.append(done.get_nowait())
            except queue.Empty:
                break
        return finished

    def _idle_seconds(self) -> float:
        with self._transaction(autocommit=True) as session:
            due = session.scalar(select(func.min(Delivery.next_attempt_at))
                                 .where(Delivery.status == PENDING))
        if due is None:
            return LONGEST_SLEEP
        return min(max((due - utcnow()).total_seconds(), 0.0), LONGEST_SLEEP)

    # -- claiming ------------------------------------------------------------------------

    def claim(self, limit: int) -> tuple[list[Job], dict[int, Target]]:
        """Lease up to ``limit`` due deliveries, with the webhooks they go to."""
        now = utcnow()
        token = secrets.token_hex(8)
        params = {"now": now, "limit": limit, "leased_until": now + self.lease, "token": token}
        with self._transaction(autocommit=True) as session:
            rows = session.execute(_CLAIM, params).all()
            jobs = [Job(id=r.id, claim=token, webhook_id=r.webhook_id, msg_id=r.msg_id,
                        event_type=r.event_type, payload=r.payload, attempts=r.attempts)
                    for r in rows]
            targets = self.targets(session, [WebhookVersion(
                r.webhook_id, r.webhook_updated_at, r.webhook_enabled, r.webhook_failing_since)
                for r in rows])
        jobs.sort(key=lambda job: job.id)
        return jobs, targets

    def targets(self, session: Any, versions: Iterable[WebhookVersion]) -> dict[int, Target]:
        """The webhooks deliveries go to, decrypted once per version of each (by
        ``updated_at``); a webhook that is gone has none."""
        found: dict[int, Target] = {}
        missing: set[int] = set()
        for version in versions:
            if version.updated_at is None:  # deleted since the delivery was queued
                continue
            if version.failing_since is None:
                self._failing.discard(version.id)
            else:
                self._failing.add(version.id)
            target = self._cache.targets.get((version.id, version.updated_at))
            if target is None:
                missing.add(version.id)
            else:
                target.enabled = version.enabled
                found[version.id] = target
        if missing:
            if len(self._cache.targets) > 10_000:
                self._cache.targets.clear()
            for webhook in session.execute(_WEBHOOKS, {"ids": list(missing)}):
                found[webhook.id] = self._cache.targets[(webhook.id, webhook.updated_at)] = \
                    self._target(webhook)
        return found

    def _target(self, webhook: Webhook) -> Target:
        method = self.kit.authmethods.get(webhook.authmethod)
        target = Target(id=webhook.id, url=webhook.url, enabled=webhook.enabled, method=method,
                        authmethod=webhook.authmethod, settings={}, secret="")
        try:
            target.secret = self.kit.secret_box.decrypt(webhook.signing_secret)
            target.settings = settings.resolve(self.kit, webhook)
        except Exception as exc:
            target.problem = getattr(exc, "message", None) or type(exc).__name__
        return target

    # -- recording -----------------------------------------------------------------------

    def record(self, finished: Iterable[_Done]) -> None:
        """Write a batch of outcomes: delivery rows, the attempt log, the webhooks' health."""
        rows: list[tuple[Any, ...]] = []
        attempts: list[tuple[Any, ...]] = []
        released: list[dict[str, Any]] = []
        ok: set[int] = set()
        failing: dict[int, str] = {}
        gone: dict[int, str] = {}
        stamp = self._stamp
        for item in finished:
            job, outcome = item.job, item.outcome
            if outcome is None:
                released.append({"_id": job.id, "_claim": job.claim, "_next": utcnow()})
                self.stats.released += 1
                continue
            attempted_at = stamp(outcome.attempted_at)
            if outcome.succeeded:
                status, next_at = SUCCEEDED, attempted_at
                ok.add(job.webhook_id)
                self.stats.succeeded += 1
            elif outcome.retry_at is not None:
                status, next_at = PENDING, stamp(outcome.retry_at)
                self.stats.retrying += 1
            else:
                status, next_at = FAILED, attempted_at
                self.stats.failed += 1
            if not outcome.succeeded and not outcome.skipped:
                failing[job.webhook_id] = outcome.error or f"HTTP {outcome.status_code}"
            if outcome.disable_reason:
                gone[job.webhook_id] = outcome.disable_reason
            rows.append((job.id, job.claim, status, next_at, job.attempts + 1,
                         outcome.status_code, outcome.error,
                         attempted_at if outcome.succeeded else None))
            attempts.append((job.id, attempted_at, outcome.duration_ms, outcome.status_code,
                             outcome.excerpt, outcome.error))
        with self._transaction() as session:
            connection = session.connection()
            batch.finish(connection, rows)
            batch.log_attempts(connection, attempts)
            if released:
                session.execute(_RELEASE, released)
            self._health(session, ok, failing, gone)

    def _health(self, session: Any, ok: set[int], failing: dict[int, str],
                gone: dict[int, str]) -> None:
        now = utcnow()
        recovered = ok & self._failing  # only webhooks seen failing need their streak ended
        if recovered:
            session.execute(update(Webhook).where(Webhook.id.in_(recovered),
                                                  Webhook.failing_since.is_not(None))
                            .values(failing_since=None))
            self._failing -= recovered
        for webhook_id, reason in gone.items():
            _disable(session, webhook_id, reason, now)
        failing = {k: v for k, v in failing.items() if k not in ok and k not in gone}
        if not failing:
            return
        self._failing.update(failing)
        session.execute(update(Webhook).where(Webhook.id.in_(failing),
                                              Webhook.failing_since.is_(None))
                        .values(failing_since=now))
        cutoff = now - self.disable_after
        for webhook in session.scalars(select(Webhook).where(
                Webhook.id.in_(failing), Webhook.enabled.is_(True),
                Webhook.failing_since <= cutoff)):
            assert webhook.failing_since is not None
            days = (now - webhook.failing_since).total_seconds() / 86400
            _disable(session, webhook.id,
                     f"every delivery failed for {days:.1f} days (since "
                     f"{webhook.failing_since:%Y-%m-%d %H:%M} UTC); last error: "
                     f"{failing[webhook.id]}", now)

    # -- housekeeping --------------------------------------------------------------------

    def _maybe_prune(self) -> None:
        if time.monotonic() - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = time.monotonic()
            prune(self.kit, self.retention)


class WebhookVersion(NamedTuple):
    """What a claim reads of a delivery's webhook: enough to tell whether the worker's copy
    (``Target``) is still current. All but ``id`` are None when the webhook is gone."""

    id: int
    updated_at: datetime | None
    enabled: bool | None
    failing_since: datetime | None


WEBHOOKS = Webhook.__table__
_CLAIMED_WEBHOOK = WEBHOOKS.alias("claimed_webhook")


def _of_webhook(name: str) -> Any:
    """A column of the claimed delivery's webhook, read in the claim's own statement: the
    worker learns whether its copy of the webhook is current without a second query."""
    # Spelled out: SQLAlchemy writes SQLite's RETURNING columns without their table, which
    # would leave "id = webhook_id" to SQL's scoping rules.
    same = literal_column("claimed_webhook.id") == literal_column("webhook_deliveries.webhook_id")
    return (select(_CLAIMED_WEBHOOK.c[name]).where(same).scalar_subquery()
            .label(f"webhook_{name}"))


_DUE = (
    select(DELIVERIES.c.id)
    .where(DELIVERIES.c.status == PENDING, DELIVERIES.c.next_attempt_at <= bindparam("now"))
    .order_by(DELIVERIES.c.next_attempt_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's write lock serialises claims
    .cte("due")
)
_CLAIM = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id.in_(select(_DUE.c.id)))
    .values(next_attempt_at=bindparam("leased_until"), claim=bindparam("token"))
    .returning(DELIVERIES.c.id, DELIVERIES.c.webhook_id, DELIVERIES.c.msg_id,
               DELIVERIES.c.event_type, DELIVERIES.c.payload, DELIVERIES.c.attempts,
               _of_webhook("updated_at"), _of_webhook("enabled"), _of_webhook("failing_since"))
)
_WEBHOOKS = select(WEBHOOKS).where(WEBHOOKS.c.id.in_(bindparam("ids", expanding=True)))

_RELEASE = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id == bindparam("_id"), DELIVERIES.c.claim == bindparam("_claim"))
    .values(next_attempt_at=bindparam("_next"), claim=None)
)


def _worker_sessions(kit: Kit) -> tuple[scoped_session, Engine | None]:
    """The sessions a worker writes with, and the engine to dispose of when it is done.

    On PostgreSQL a worker has connections of its own whose transactions commit without
    waiting for the disk (``synchronous_commit`` off). A claim or an outcome lost to a
    database crash does no harm: the claim is taken again when its lease runs out, and a
    delivery whose success was lost is sent once more (at least once; receivers drop repeats
    by ``webhook-id``). Events and deliveries are queued by the site's own transactions, which
    keep the database's setting. Elsewhere the worker uses the site's sessions.
    """
    if kit.engine.dialect.name != "postgresql":
        return kit.session, None
    engine = make_engine(kit.engine.url.render_as_string(hide_password=False))

    @event.listens_for(engine, "connect")
    def _asynchronous_commit(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")
        dbapi_connection.commit()

    return make_session(engine), engine


def _disable(session: Any, webhook_id: int, reason: str, now: datetime) -> None:
    session.execute(update(Webhook).where(Webhook.id == webhook_id, Webhook.enabled.is_(True))
                    .values(enabled=False, disabled_reason=reason, updated_at=now))
    log.warning("webhook %s disabled: %s", webhook_id, reason)


def prune(kit: Kit, retention: timedelta) -> int:
    """Delete finished deliveries (with their attempt logs) and attempt logs older than
    ``retention``; returns how many deliveries went."""
    cutoff = utcnow() - retention
    with kit.transaction() as session:
        session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.attempted_at < cutoff))
        result = session.execute(delete(Delivery).where(Delivery.status != PENDING,
                                                        Delivery.created_at < cutoff))
    return int(result.rowcount or 0)


class WorkerService:
    """The worker thread `jomreskit serve` runs beside the site (``background_services``)."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.worker: Worker | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.worker = Worker(self.kit)
        self._thread = threading.Thread(target=self._run, name="jomreskit-worker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self.worker is not None
        with self.kit.app.app_context():
            while True:
                try:
                    self.worker.run("forever")
                    return
                except Exception:  # keep delivering after a database hiccup
                    log.exception("webhook worker failed; restarting in 5 s")
                    if self.worker._stopping.wait(5):
                        return

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self._thread is not None:
            self._thread.join(timeout=30)
