"""Workers: claim due deliveries, send them through a pool of threads, record the outcome.

One loop per worker claims batches of due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
any number of workers share the queue; on SQLite the write lock serialises claims), hands
them to sending threads, and writes the outcomes of finished attempts in batches: one
transaction updates the deliveries and logs the attempts. A claim is a lease: the row's
``next_attempt_at`` moves forward by the lease, so if the worker dies, the row is due again
when the lease runs out and another worker sends it.

No endpoint can hold up the others (see ``InHand``): each attempt ends by its deadline, each
webhook has at most ``JOMRESKIT_WEBHOOK_ENDPOINT_CONCURRENCY`` attempts under way, and an
attempt that has run for a second no longer counts against the worker's concurrency, so the
other endpoints get fresh threads while a slow one waits out its deadline. The loop itself
never sends: it only claims, hands out, and records, so it is always free to do so.

An idle worker sleeps until new work wakes it or the earliest due time comes (a retry, a
``Retry-After``, a lease running out), then claims. A lost database connection is ridden out:
the loop backs off, reconnects, and records the outcomes it kept meanwhile.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import bindparam, case, delete, event, func, literal_column, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import scoped_session

from jomreskit import db
from jomreskit.db import make_engine, make_session, utcnow

from . import auth_settings, batch, breaker, config, message, metrics, spans, wakeup
from .models import CLOSED, FAILED, PENDING, SUCCEEDED, Delivery, DeliveryAttempt, Webhook
from .sender import Job, Outcome, Sender, Target
from .wakeup import first_line

if TYPE_CHECKING:
    from jomreskit import Kit

log = logging.getLogger("jomreskit.webhooks")

DELIVERIES = Delivery.__table__
ATTEMPTS = DeliveryAttempt.__table__
LONGEST_SLEEP = 30.0  # an idle worker looks again at least this often
PRUNE_EVERY = 3600.0
SLOW_AFTER = 1.0  # seconds: an attempt running longer no longer holds a place of concurrency
THREADS_PER_PLACE = 4  # threads in all, per place of concurrency, for slow attempts to wait in
LONGEST_BACKOFF = 30.0  # seconds between tries while the database is unreachable
# What a lost or refused database connection raises; anything else is a bug and is raised.
DATABASE_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError,
                 sa_exc.TimeoutError)


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


def _failed(outcome: Outcome | None) -> bool:
    """Whether an attempt counts against its webhook's circuit."""
    return outcome is not None and not (outcome.succeeded or outcome.skipped)


@dataclass
class _Cache:
    targets: dict[tuple[int, datetime], Target] = field(default_factory=dict)


Key = tuple[str, Any]  # ("webhook", id), ("host", "name:port") or ("manager", id)


def keys_of(job: Job, target: Target | None) -> tuple[Key, ...]:
    """What an attempt counts against: its webhook, and the webhook's host and manager."""
    if target is None:  # gone: the attempt only notes that
        return (("webhook", job.webhook_id),)
    return (("webhook", job.webhook_id), ("host", target.host), ("manager", target.manager_id))


@dataclass(frozen=True)
class Limits:
    """How many attempts may go at once to one webhook, host or manager (``cap``), and how
    many of its deliveries a worker holds at most (``share``)."""

    cap: dict[str, int]
    share: dict[str, int]


class InHand:
    """The deliveries a worker has claimed: waiting for a thread, or being sent.

    Hands them to threads so that no webhook, host or manager takes more than its share: at
    most ``limits.cap[kind]`` attempts to one of each at once (slow ones included), at most
    ``places`` attempts that have run less than ``SLOW_AFTER`` at once, and at most
    ``threads`` in all. Webhooks take turns for free places, those with the fewest attempts
    under way (to them, their host and their manager) first, so a webhook with a long queue
    does not starve a short one, and a stalled host or manager holds at most its cap of the
    threads. At most ``limits.share[kind]`` deliveries of one are in hand: the rest of its
    queue stays in the database for other workers, and a stalled endpoint's rows do not wait
    out a lease. A webhook whose attempt just failed waits until the failure is recorded
    (``recorded``), so that an opened circuit stops its next attempts; one whose circuit is
    open is ``stopped``: its waiting deliveries are handed back.

    The loop adds what it claims and starts threads; a sending thread that finishes an
    attempt takes the next delivery itself, without waiting for the loop. Hence the lock.
    """

    def __init__(self, places: int, limits: Limits, threads: int) -> None:
        self.places = places
        self.limits = limits
        self.threads = threads
        self.waiting: dict[int, deque[tuple[Job, Target | None]]] = {}
        self.keys: dict[int, tuple[Key, ...]] = {}  # delivery id -> what its attempt counts against
        self.sending: dict[int, float] = {}  # delivery id -> when its attempt started
        self.sending_to: dict[Key, int] = {}  # attempts under way, per webhook, host, manager
        self.holding: dict[Key, int] = {}  # deliveries in hand, per webhook, host, manager
        self.claims: dict[int, str] = {}  # delivery id -> claim token, of all in hand
        self.unrecorded: dict[int, int] = {}  # webhook id -> its failures not yet recorded
        self._lock = threading.Lock()

    def add(self, job: Job, target: Target | None) -> None:
        with self._lock:
            keys = self.keys[job.id] = keys_of(job, target)
            self.waiting.setdefault(job.webhook_id, deque()).append((job, target))
            self.claims[job.id] = job.claim
            for key in keys:
                self.holding[key] = self.holding.get(key, 0) + 1

    def _room(self, webhook_id: int, jobs: deque[tuple[Job, Target | None]]) -> bool:
        """Whether the next of a webhook's waiting deliveries may be sent now."""
        if webhook_id in self.unrecorded:
            return False
        cap = self.limits.cap
        return all(self.sending_to.get(key, 0) < cap[key[0]] for key in self.keys[jobs[0][0].id])

    def held(self) -> int:
        """Deliveries in hand that will take places soon: the fast ones sending, and those
        waiting for a webhook that has room to send (not those parked behind a busy webhook,
        host or manager)."""
        with self._lock:
            ready = sum(len(jobs) for webhook_id, jobs in self.waiting.items()
                        if self._room(webhook_id, jobs))
            return ready + self._fast(time.monotonic())

    def fast(self) -> int:
        """Attempts under way that still hold a place."""
        with self._lock:
            return self._fast(time.monotonic())

    def _fast(self, now: float) -> int:
        return sum(1 for started in self.sending.values() if now - started < SLOW_AFTER)

    def count(self, key: Key) -> int:
        """Deliveries of a webhook, host or manager in hand."""
        with self._lock:
            return self.holding.get(key, 0)

    def full(self) -> list[Key]:
        """Webhooks, hosts and managers with their whole share in hand: a claim leaves their
        rows alone."""
        with self._lock:
            share = self.limits.share
            return [key for key, held in self.holding.items() if held >= share[key[0]]]

    def take(self, most: int | None = None) -> list[tuple[Job, Target | None]]:
        """The waiting deliveries that may be sent now (``most`` at most), webhooks taking
        turns; they count as being sent from now on."""
        with self._lock:
            return self._take(most)

    def failing(self, job: Job) -> None:
        """Hold ``job``'s webhook until this failed attempt is recorded. Called before the
        outcome is handed to the loop, so the loop cannot record it first."""
        with self._lock:
            self.unrecorded[job.webhook_id] = self.unrecorded.get(job.webhook_id, 0) + 1

    def finished_then_next(self, job: Job) -> tuple[Job, Target | None] | None:
        """Note that ``job``'s attempt ended, and take the next delivery its thread may
        send."""
        with self._lock:
            self._finished(job)
            taken = self._take(1)
            return taken[0] if taken else None

    def recorded(self, finished: Iterable[_Done]) -> None:
        """These outcomes are recorded: a webhook whose failures are all recorded may send
        again (unless ``stop`` took it out). Counted per failure, not cleared at once: a
        failure reported while an earlier batch was being written still holds its webhook,
        or a circuit could be sent more than its cap's worth of attempts past its
        threshold."""
        with self._lock:
            for item in finished:
                if _failed(item.outcome):
                    webhook_id = item.job.webhook_id
                    left = self.unrecorded.get(webhook_id, 0) - 1
                    if left > 0:
                        self.unrecorded[webhook_id] = left
                    else:
                        self.unrecorded.pop(webhook_id, None)

    def stop(self, webhook_ids: Iterable[int]) -> list[Job]:
        """Take the waiting deliveries of ``webhook_ids`` out (their circuit is open), to hand
        back unsent."""
        with self._lock:
            jobs: list[Job] = []
            for webhook_id in webhook_ids:
                for job, _target in self.waiting.pop(webhook_id, ()):
                    jobs.append(job)
                    self._let_go(job)
            return jobs

    def _take(self, most: int | None) -> list[tuple[Job, Target | None]]:
        now = time.monotonic()
        free = min(self.places - self._fast(now), self.threads - len(self.sending))
        if most is not None:
            free = min(free, most)
        taken: list[tuple[Job, Target | None]] = []
        while free > 0 and self.waiting:
            progress = False
            # Those with the fewest attempts under way (to the webhook, its host and its
            # manager) first: when a stalled host's attempts turn slow and give their places
            # back, a healthy endpoint's delivery takes one before the stalled host's next.
            for webhook_id in sorted(self.waiting, key=self._under_way_to):
                if free <= 0:
                    break
                jobs = self.waiting[webhook_id]
                if not self._room(webhook_id, jobs):
                    continue
                job, target = jobs.popleft()
                if not jobs:
                    del self.waiting[webhook_id]
                self.sending[job.id] = now
                for key in self.keys[job.id]:
                    self.sending_to[key] = self.sending_to.get(key, 0) + 1
                free -= 1
                progress = True
                taken.append((job, target))
            if not progress:
                break
        return taken

    def _under_way_to(self, webhook_id: int) -> int:
        """Attempts under way to a waiting webhook, its host and its manager, together."""
        keys = self.keys[self.waiting[webhook_id][0][0].id]
        return sum(self.sending_to.get(key, 0) for key in keys)

    def _finished(self, job: Job) -> None:
        if self.sending.pop(job.id, None) is not None:
            for key in self.keys[job.id]:
                left = self.sending_to[key] - 1
                if left:
                    self.sending_to[key] = left
                else:
                    del self.sending_to[key]
        self._let_go(job)

    def _let_go(self, job: Job) -> None:
        if self.claims.pop(job.id, None) is None:
            return
        for key in self.keys.pop(job.id):
            left = self.holding[key] - 1
            if left:
                self.holding[key] = left
            else:
                del self.holding[key]

    def unsent(self) -> list[Job]:
        """Take every waiting delivery out (to hand back when stopping)."""
        with self._lock:
            jobs = [job for queued in self.waiting.values() for job, _target in queued]
            self.waiting.clear()
            for job in jobs:
                self._let_go(job)
            return jobs

    def next_place(self) -> float | None:
        """Seconds until a fast attempt turns slow and frees its place, if any is waiting."""
        with self._lock:
            if not self.waiting or not self.sending:
                return None
            now = time.monotonic()
            fast = [t for t in self.sending.values() if now - t < SLOW_AFTER]
            return max(0.0, min(fast) + SLOW_AFTER - now) if fast else None

    def under_way(self) -> int:
        """Attempts being made, fast or slow."""
        with self._lock:
            return len(self.sending)

    def in_hand(self) -> dict[int, str]:
        """Claim tokens of every delivery in hand, by delivery id."""
        with self._lock:
            return dict(self.claims)

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self.waiting or self.sending)


class Worker:
    """A delivery worker for one site. ``run()`` in a thread or process; ``stop()`` from any."""

    def __init__(self, kit: Kit, concurrency: int | None = None) -> None:
        self.kit = kit
        self.concurrency = max(
            1, int(concurrency or config.get(kit, "JOMRESKIT_WEBHOOK_CONCURRENCY")))
        self.per_webhook = max(1, min(self.concurrency, int(
            config.get(kit, "JOMRESKIT_WEBHOOK_ENDPOINT_CONCURRENCY"))))
        # A host's and a manager's caps hold slow attempts too: at the defaults one stalled
        # host keeps at most a quarter of the threads, one stalled manager half.
        threads = self.concurrency * THREADS_PER_PLACE
        self.per_host = max(1, min(threads, int(
            config.get(kit, "JOMRESKIT_WEBHOOK_HOST_CONCURRENCY"))))
        self.per_manager = max(1, min(threads, int(
            config.get(kit, "JOMRESKIT_WEBHOOK_MANAGER_CONCURRENCY"))))
        self.lease = timedelta(seconds=config.number(kit, "JOMRESKIT_WEBHOOK_LEASE_SECONDS"))
        timeout = config.number(kit, "JOMRESKIT_WEBHOOK_TIMEOUT")
        # Enough rows in hand to keep every thread busy while the loop writes and claims, but
        # no more than the threads can surely send (an attempt ends by its deadline) before
        # the lease runs out.
        depth = int(self.lease.total_seconds() // (2 * timeout + 1))
        self.batch = self.concurrency * max(1, min(8, depth))
        self.share = self.per_webhook * max(1, min(4, depth))
        # A host's or manager's share is as deep as a whole batch: a busy host (a channel
        # manager with many webhooks) is claimed as fast as before; a dead one's share is
        # still sent within the lease.
        self.limits = Limits(
            cap={"webhook": self.per_webhook, "host": self.per_host,
                 "manager": self.per_manager},
            share={"webhook": self.share, "host": self.per_host * max(1, min(8, depth)),
                   "manager": self.per_manager * max(1, min(8, depth))})
        self.breaker = breaker.Policy(
            failures=int(config.get(kit, "JOMRESKIT_WEBHOOK_BREAKER_FAILURES")),
            window=timedelta(seconds=config.number(kit, "JOMRESKIT_WEBHOOK_BREAKER_WINDOW")),
            cooloff=timedelta(seconds=config.number(kit, "JOMRESKIT_WEBHOOK_BREAKER_COOLOFF")))
        self.disable_after = timedelta(
            days=config.number(kit, "JOMRESKIT_WEBHOOK_DISABLE_AFTER_DAYS"))
        self.retention = timedelta(days=config.number(kit, "JOMRESKIT_WEBHOOK_RETENTION_DAYS"))
        self.sender = Sender(config.site_guard(kit),
                             config.number(kit, "JOMRESKIT_WEBHOOK_CONNECT_TIMEOUT"), timeout)
        self.waker = wakeup.Waker(kit)
        self.stats = Stats()
        self.metrics = metrics.of(kit)
        self._stopping = threading.Event()
        self._cache = _Cache()
        self._pruned_at = 0.0
        self._stamp = batch.stamp(kit.engine.dialect)
        self._failing: set[int] = set()  # webhooks whose failing_since is set, as last seen
        self._probing: set[int] = set()  # webhooks whose probe this worker is sending
        self._opened: set[int] = set()  # circuits found open: hand their deliveries back
        self._closed: set[int] = set()  # circuits closed: their queues are due again
        self._probe_at = 0.0  # monotonic time to look for circuits due a probe
        self._sessions: scoped_session | None = None
        self._engine: Engine | None = None
        self._in_hand: InHand | None = None
        self._unrecorded: list[_Done] = []  # outcomes kept while the database is away
        self._down_since: float | None = None
        self._backoff = 0.0
        self._retry_database_at = 0.0

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

    def _database_ready(self) -> bool:
        """False while backing off after the database was lost."""
        return self._down_since is None or time.monotonic() >= self._retry_database_at

    def _database_lost(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._backoff = min(LONGEST_BACKOFF, self._backoff * 2 if self._backoff else 1.0)
        self._retry_database_at = now + self._backoff
        if self._down_since is None:
            self._down_since = now
            reason = first_line(getattr(exc, "orig", None) or exc)
            log.warning("webhook worker lost the database (%s); trying again every %g s at "
                        "most, deliveries wait", reason, LONGEST_BACKOFF)
        if self._sessions is not None:
            try:
                self._sessions.remove()
            except Exception:  # the connection is gone already
                pass

    def _database_back(self) -> None:
        if self._down_since is not None:
            log.warning("webhook worker reached the database again after %.0f s",
                        time.monotonic() - self._down_since)
        self._down_since = None
        self._backoff = 0.0

    def problem(self) -> str | None:
        """Why this worker cannot send at all (its key cannot read the stored secrets), or
        None. Said once at start-up rather than as the error of every delivery."""
        try:
            with self._transaction(autocommit=True) as session:
                secret = session.scalar(select(Webhook.signing_secret)
                                        .where(Webhook.enabled.is_(True)).limit(1))
        except DATABASE_DOWN:
            return None  # the loop waits for the database and says so
        if secret is None:
            return None
        try:
            self.kit.secret_box.decrypt(secret)
        except Exception:
            return ("this process cannot decrypt the webhooks' stored secrets: every process "
                    "of a site (serve, worker, commands, on every machine) needs the same "
                    "JOMRESKIT_SECRET_KEY as the one that created them")
        return None

    # -- the loop ------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """Finish the attempts under way (each within its deadline), hand back the rest at
        once, and return from ``run()``."""
        self._stopping.set()
        self.waker.nudge()

    def abandon(self) -> int:
        """Hand back every delivery in hand at once, sent or not (for a second Ctrl-C: the
        process is about to exit without waiting); returns how many. Those being sent may
        arrive twice, with the same ``webhook-id``."""
        in_hand = self._in_hand
        claims = in_hand.in_hand() if in_hand is not None else {}
        if not claims:
            return 0
        try:
            # A connection of its own: the loop's session may be in the middle of something.
            with self.kit.engine.begin() as connection:
                connection.execute(_RELEASE, [{"_id": i, "_claim": c, "_next": utcnow()}
                                              for i, c in claims.items()])
        except Exception:  # the leases run out by themselves
            return 0
        return len(claims)

    def run(self, mode: str = "forever") -> Stats:
        """Deliver until stopped (``forever``), for one claim (``once``), or until nothing is due
        now (``drain``; retries scheduled for later stay queued)."""
        done: queue.SimpleQueue[_Done] = queue.SimpleQueue()
        in_hand = self._in_hand = InHand(self.concurrency, self.limits,
                                         self.concurrency * THREADS_PER_PLACE)
        pool = ThreadPoolExecutor(in_hand.threads, thread_name_prefix="jomreskit-delivery")
        more = True  # whether due rows may be waiting (the last claim was full, or woken)
        claimed: bool | None = None  # what the claim of this round said of ``more``
        look_ahead = False  # whether to read the next due time before sleeping
        due_in: float | None = None  # seconds until the next row falls due, as last read
        looked_at = time.monotonic()
        skipped: set[Key] = set()  # webhooks, hosts, managers the last claim left alone
        claims = 0
        try:
            while True:
                stopping = self._stopping.is_set()
                if stopping:
                    self._unrecorded.extend(_Done(job, None) for job in in_hand.unsent())
                may_claim = not stopping and (mode != "once" or claims == 0)
                if (may_claim and (more or (due_in is not None
                                            and time.monotonic() - looked_at >= due_in))
                        and in_hand.held() <= self.batch // 2 and self._database_ready()):
                    skip = in_hand.full()
                    claimed = self._claim_into(in_hand, skip)
                    if claimed is not None:
                        claims += 1
                        more = claimed
                        # What this claim left alone, and what it filled: attempts that ended
                        # since may have made room already, which ``_room_again`` sees.
                        skipped = set(skip) | set(in_hand.full())
                if (may_claim and time.monotonic() >= self._probe_at
                        and self._database_ready()):
                    self._take_probes(in_hand)  # after the claim: it holds up no new delivery
                for job, target in in_hand.take():
                    pool.submit(self._send, job, target, in_hand, done)
                if claimed is not None and not more:
                    look_ahead = True  # nothing else is due now: when is the next?
                claimed = None
                if look_ahead and not in_hand.fast():
                    # Asked once the attempts just started are done (or slow), so the question
                    # takes nothing from them (this thread's Python would share their core).
                    due_in, looked_at = self._due_in(in_hand.full()), time.monotonic()
                    look_ahead = False
                finished = self._collect(done, in_hand)
                more = self._room_again(in_hand, skipped) or more
                for item in finished:
                    retry_at = item.outcome.retry_at if item.outcome else None
                    if retry_at is not None:  # due again at a time the loop must wake for
                        later = (retry_at - utcnow()).total_seconds() + time.monotonic()
                        if due_in is None or later < looked_at + due_in:
                            due_in = max(0.0, later - looked_at)
                self._unrecorded.extend(finished)
                if self._unrecorded and self._database_ready():
                    kept = self._record_kept()
                    if self._down_since is None:
                        # Circuits found open: their waiting deliveries go back unsent.
                        opened, self._opened = self._opened, set()
                        self._unrecorded.extend(_Done(job, None) for job in in_hand.stop(opened))
                        in_hand.recorded(kept)
                        if self._closed:  # what waited behind a circuit is due now
                            self._closed.clear()
                            more = True
                if finished:
                    continue
                # ``done`` is looked at after ``in_hand``: a thread reports its outcome before
                # it leaves ``in_hand``, so an outcome reported since ``_collect`` is seen here.
                idle = not in_hand and not self._unrecorded and done.empty()
                # And what the claim skipped, after: the last attempts may have left it since.
                more = self._room_again(in_hand, skipped) or more
                if idle:
                    if stopping or mode == "once" or (mode == "drain" and not more):
                        break
                elif stopping and not in_hand.under_way() and not self._database_ready():
                    break  # outcomes that cannot be written: the leases bring the rows back
                if mode == "forever" and not in_hand and self._database_ready():
                    self._maybe_prune()
                sleep = self._sleep(in_hand, more and may_claim, due_in, looked_at)
                woken = self.waker.wait(min(sleep, SLOW_AFTER) if look_ahead else sleep)
                more = more or woken
        finally:
            pool.shutdown(wait=True)
            self._in_hand = None
            self.close()
        return self.stats

    def _room_again(self, in_hand: InHand, skipped: set[Key]) -> bool:
        """Whether a webhook, host or manager the last claim skipped (its share was in hand)
        has room for its next rows again; those that have leave ``skipped``."""
        share = self.limits.share
        roomy = [key for key in skipped if in_hand.count(key) <= share[key[0]] // 2]
        skipped.difference_update(roomy)
        return bool(roomy)

    def _sleep(self, in_hand: InHand, more: bool, due_in: float | None,
               looked_at: float) -> float:
        """How long the loop may wait for something to happen (it is woken earlier by new
        work and by finished attempts)."""
        wait = LONGEST_SLEEP
        if self._down_since is not None:
            wait = min(wait, max(0.0, self._retry_database_at - time.monotonic()))
        elif more and in_hand.held() <= self.batch // 2:
            return 0.0
        if due_in is not None:
            wait = min(wait, max(0.0, looked_at + due_in - time.monotonic()))
        wait = min(wait, max(0.0, self._probe_at - time.monotonic()))
        place = in_hand.next_place()
        if place is not None:
            wait = min(wait, place)
        return wait

    def _send(self, job: Job, target: Target | None, in_hand: InHand,
              done: queue.SimpleQueue[_Done]) -> None:
        """A sending thread: attempt ``job``, then whatever ``in_hand`` gives it next."""
        following: tuple[Job, Target | None] | None = (job, target)
        while following is not None:
            job, target = following
            outcome = None
            try:
                if not self._stopping.is_set():
                    outcome = spans.attempt(self.sender, job, target)
            finally:
                if _failed(outcome):
                    in_hand.failing(job)
                done.put(_Done(job, outcome))
                following = in_hand.finished_then_next(job)
                self.waker.nudge()

    def _collect(self, done: queue.SimpleQueue[_Done], in_hand: InHand) -> list[_Done]:
        """The finished attempts; when many are under way, wait up to 20 ms for more (half a
        batch at most), so outcomes are written in batches without holding any back long."""
        finished: list[_Done] = []
        while True:
            try:
                finished.append(done.get_nowait())
            except queue.Empty:
                break
        if not finished:
            return finished
        # Wait only for attempts that should end soon: not for the slow ones.
        enough = min(in_hand.fast(), max(1, self.batch // 2))
        deadline = time.monotonic() + 0.02
        while len(finished) < enough:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                finished.append(done.get(timeout=remaining))
            except queue.Empty:
                break
        return finished

    def _claim_into(self, in_hand: InHand, skip: list[Key]) -> bool | None:
        """Claim what may be sent now into ``in_hand``; returns whether more may be due at
        once, or None when the database could not be reached."""
        wanted = self.batch - in_hand.held()
        try:
            jobs, targets = self.claim(wanted, skip=skip)
        except DATABASE_DOWN as exc:
            self._database_lost(exc)
            return None
        per_key: dict[Key, int] = {}
        for job in jobs:
            target = targets.get(job.webhook_id)
            in_hand.add(job, target)
            for key in keys_of(job, target):
                per_key[key] = per_key.get(key, 0) + 1
        # A full claim, or one a share cut short, may have left due rows behind.
        self._database_back()
        share = self.limits.share
        return len(jobs) == wanted or any(n >= share[key[0]] for key, n in per_key.items())

    def _take_probes(self, in_hand: InHand) -> None:
        """Take the circuits whose cool-off is over to "probing", and claim each one's oldest
        due delivery into ``in_hand``; note when to look again."""
        now = utcnow()
        token = secrets.token_hex(8)
        try:
            with self._transaction(autocommit=True) as session:
                connection = session.connection()
                rows = []
                for webhook_id in breaker.take_probes(connection, now, self.lease):
                    rows += session.execute(_CLAIM_PROBE, {
                        "probed": webhook_id, "now": now, "token": token,
                        "leased_until": now + self.lease}).all()
                jobs, targets = self._jobs(session, rows, token)
                following = session.scalar(breaker.NEXT_PROBE)
        except DATABASE_DOWN as exc:
            self._database_lost(exc)
            return
        self._probing.update(job.webhook_id for job in jobs)
        for job in jobs:
            in_hand.add(job, targets.get(job.webhook_id))
        # Not again at once, whatever the database says: a probe check is not a busy loop.
        self._probe_at = max(_monotonic_at(following, LONGEST_SLEEP), time.monotonic() + 0.5)

    def _due_in(self, skip: list[Key]) -> float | None:
        """Seconds until the earliest pending row of the other webhooks falls due (a retry, a
        ``Retry-After``, a lease running out) or a circuit's cool-off ends, or None when
        neither is pending. With the database away, 0: claim again as soon as it is back."""
        try:
            with self._transaction(autocommit=True) as session:
                due, probe = session.execute(_NEXT_DUE, _skipping(skip)).one()
        except DATABASE_DOWN as exc:
            self._database_lost(exc)
            return 0.0
        if probe is not None:
            self._probe_at = _monotonic_at(probe, LONGEST_SLEEP)
        soonest = min((t for t in (due, probe) if t is not None), default=None)
        if soonest is None:
            return None
        return max((soonest - utcnow()).total_seconds(), 0.05)

    def _record_kept(self) -> list[_Done]:
        """Record the outcomes kept so far; returns those written (none if the database
        is down: they stay kept)."""
        kept, self._unrecorded = self._unrecorded, []
        try:
            self.record(kept)
        except DATABASE_DOWN as exc:
            self._unrecorded = kept + self._unrecorded
            self._database_lost(exc)
            return []
        self._database_back()
        return kept


    # -- claiming ------------------------------------------------------------------------

    def claim(self, limit: int, skip: Iterable[Key] = ()) -> tuple[list[Job], dict[int, Target]]:
        """Lease up to ``limit`` due deliveries of webhooks whose circuit is closed, at most
        a share to any one webhook, host or manager and none to those in ``skip``, with the
        webhooks they go to."""
        if self.kit.follow_registry():  # an auth method installed since start, say
            self._cache.targets.clear()  # built with the plugins of before
        now = utcnow()
        token = secrets.token_hex(8)
        share = self.limits.share
        params = {"now": now, "limit": limit, "leased_until": now + self.lease, "token": token,
                  "share": share["webhook"], "host_share": share["host"],
                  "manager_share": share["manager"], **_skipping(skip)}
        with self._transaction(autocommit=True) as session:
            rows = session.execute(_CLAIM, params).all()
            jobs, targets = self._jobs(session, rows, token)
        return jobs, targets

    def _jobs(self, session: Any, rows: list[Any], token: str
              ) -> tuple[list[Job], dict[int, Target]]:
        site_address = self.kit.site_address()
        jobs = [Job(id=r.id, claim=token, webhook_id=r.webhook_id, msg_id=r.msg_id,
                    event_type=r.event_type, attempts=r.attempts,
                    payload=message.with_site_address(r.payload, site_address),
                    traceparent=r.traceparent)
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
                        authmethod=webhook.authmethod, settings={}, secret="",
                        host=webhook.host, manager_id=webhook.manager_id)
        try:
            target.secret = self.kit.secret_box.decrypt(webhook.signing_secret)
            target.settings = auth_settings.resolve(self.kit, webhook)
        except Exception as exc:
            target.problem = getattr(exc, "message", None) or type(exc).__name__
        return target

    # -- recording -----------------------------------------------------------------------

    def record(self, finished: Iterable[_Done]) -> None:
        """Write a batch of outcomes: delivery rows, the attempt log, the webhooks' health."""
        rows: list[tuple[Any, ...]] = []
        attempts: list[tuple[Any, ...]] = []
        released: list[dict[str, Any]] = []
        outcomes: list[Outcome] = []
        ok: set[int] = set()
        failing: dict[int, breaker.Failures] = {}
        gone: dict[int, str] = {}
        stats = Stats()
        stamp = self._stamp
        for item in finished:
            job, outcome = item.job, item.outcome
            if outcome is None:
                released.append({"_id": job.id, "_claim": job.claim, "_next": utcnow()})
                stats.released += 1
                continue
            outcomes.append(outcome)
            attempted_at = stamp(outcome.attempted_at)
            if outcome.succeeded:
                status, next_at = SUCCEEDED, attempted_at
                ok.add(job.webhook_id)
                stats.succeeded += 1
            elif outcome.retry_at is not None:
                status, next_at = PENDING, stamp(outcome.retry_at)
                stats.retrying += 1
            else:
                status, next_at = FAILED, attempted_at
                stats.failed += 1
            if not outcome.succeeded and not outcome.skipped:
                failure = failing.setdefault(job.webhook_id, breaker.Failures(0, ""))
                failure.count += 1
                failure.reason = outcome.error or f"HTTP {outcome.status_code}"
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
        for name in ("succeeded", "retrying", "failed", "released"):  # once written
            setattr(self.stats, name, getattr(self.stats, name) + getattr(stats, name))
        self.metrics.recorded(outcomes)
        self._health(ok, failing, gone)

    def _health(self, ok: set[int], failing: dict[int, breaker.Failures],
                gone: dict[int, str]) -> None:
        """The webhooks' failing streaks, circuits and disabling, in a transaction of their
        own (with the events they fire); nothing to do, and no statement, while all is well."""
        # Only webhooks seen failing (or probed) can have a streak to end or a circuit to close.
        recovered = ok & (self._failing | self._probing)
        failing = {k: v for k, v in failing.items() if k not in ok and k not in gone}
        if not (recovered or failing or gone):
            return
        now = utcnow()
        with self.kit.transaction():
            self._closed |= breaker.recovered(self.kit, recovered)
            for webhook_id, reason in gone.items():
                breaker.disable(self.kit, webhook_id, reason, now)
            not_closed = breaker.failed(self.kit, self.breaker, failing,
                                        self._probing & failing.keys(), self.disable_after, now)
        self._failing = (self._failing - recovered) | failing.keys()
        self._probing -= recovered | failing.keys()
        self._opened |= not_closed
        if not_closed:  # look for probes once the shortest cool-off is over
            self._probe_at = min(self._probe_at,
                                 time.monotonic() + self.breaker.cooloff.total_seconds())

    # -- housekeeping --------------------------------------------------------------------

    def _maybe_prune(self) -> None:
        if time.monotonic() - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = time.monotonic()
            try:
                prune(self.kit, self.retention)
            except DATABASE_DOWN as exc:
                self._database_lost(exc)


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


def _sendable(*where: Any) -> Any:
    """Pending deliveries whose webhook is not paused and has its circuit closed, and whose
    webhook, host and manager a worker is not already holding its share of (the ``skip_*``
    lists)."""
    return (
        select(DELIVERIES.c.id, DELIVERIES.c.webhook_id, DELIVERIES.c.next_attempt_at,
               WEBHOOKS.c.host, WEBHOOKS.c.manager_id)
        .join_from(DELIVERIES, WEBHOOKS, WEBHOOKS.c.id == DELIVERIES.c.webhook_id)
        .where(DELIVERIES.c.status == PENDING, WEBHOOKS.c.circuit == CLOSED,
               WEBHOOKS.c.paused_at.is_(None),
               DELIVERIES.c.webhook_id.not_in(bindparam("skip_webhooks", expanding=True)),
               WEBHOOKS.c.host.not_in(bindparam("skip_hosts", expanding=True)),
               WEBHOOKS.c.manager_id.not_in(bindparam("skip_managers", expanding=True)),
               *where)
    )


_DUE = (
    _sendable(DELIVERIES.c.next_attempt_at <= bindparam("now"))
    .order_by(DELIVERIES.c.next_attempt_at, DELIVERIES.c.id)
    .limit(bindparam("limit"))
    # PostgreSQL, the deliveries' rows only; SQLite's write lock serialises claims.
    .with_for_update(skip_locked=True, of=DELIVERIES)
    .cte("due")
)


def _turn(partition: Any) -> Any:
    return func.row_number().over(partition_by=partition,
                                  order_by=(_DUE.c.next_attempt_at, _DUE.c.id))


# Each webhook's, host's and manager's share of the claim, oldest first: one with a long
# queue (or a stalled endpoint) leaves the rest of the batch to the others.
_SHARED = select(_DUE.c.id, _turn(_DUE.c.webhook_id).label("turn"),
                 _turn(_DUE.c.host).label("host_turn"),
                 _turn(_DUE.c.manager_id).label("manager_turn")).cte("shared")
_CLAIMED = DELIVERIES.c.id.in_(
    select(_SHARED.c.id).where(_SHARED.c.turn <= bindparam("share"),
                               _SHARED.c.host_turn <= bindparam("host_share"),
                               _SHARED.c.manager_turn <= bindparam("manager_share")))
_RETURNED = (DELIVERIES.c.id, DELIVERIES.c.webhook_id, DELIVERIES.c.msg_id,
             DELIVERIES.c.event_type, DELIVERIES.c.payload, DELIVERIES.c.attempts,
             DELIVERIES.c.traceparent, _of_webhook("updated_at"), _of_webhook("enabled"),
             _of_webhook("failing_since"))
_CLAIM = (
    update(DELIVERIES)
    .where(_CLAIMED)
    .values(next_attempt_at=bindparam("leased_until"), claim=bindparam("token"))
    .returning(*_RETURNED)
)
# A probe: the oldest due delivery of a webhook whose circuit this worker took to "probing".
_CLAIM_PROBE = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id == (
        select(DELIVERIES.c.id)
        .where(DELIVERIES.c.webhook_id == bindparam("probed"),
               DELIVERIES.c.status == PENDING, DELIVERIES.c.next_attempt_at <= bindparam("now"))
        .order_by(DELIVERIES.c.next_attempt_at, DELIVERIES.c.id).limit(1)
        .scalar_subquery()))
    .values(next_attempt_at=bindparam("leased_until"), claim=bindparam("token"))
    .returning(*_RETURNED)
)
# When a worker with nothing to do must look again: the next due delivery it may send, and
# the end of the earliest cool-off of a circuit with deliveries waiting.
_NEXT_DUE = select(
    _sendable().with_only_columns(func.min(DELIVERIES.c.next_attempt_at)).scalar_subquery(),
    breaker.NEXT_PROBE.scalar_subquery())
_WEBHOOKS = select(WEBHOOKS).where(WEBHOOKS.c.id.in_(bindparam("ids", expanding=True)))

# Handed back unsent: due again when it first was (a delivery never tried, when it was queued),
# so that its place in the queue is kept.
_RELEASE = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id == bindparam("_id"), DELIVERIES.c.claim == bindparam("_claim"))
    .values(next_attempt_at=case((DELIVERIES.c.attempts == 0, DELIVERIES.c.created_at),
                                 else_=bindparam("_next")), claim=None)
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


def _skipping(keys: Iterable[Key]) -> dict[str, list[Any]]:
    """The claim's ``skip_*`` parameters: the webhooks, hosts and managers in ``keys``."""
    found: dict[str, list[Any]] = {"skip_webhooks": [], "skip_hosts": [], "skip_managers": []}
    for kind, value in keys:
        found[f"skip_{kind}s"].append(value)
    return found


def _monotonic_at(when: datetime | None, longest: float) -> float:
    """``time.monotonic()`` at the database time ``when``, ``longest`` seconds from now at
    most (or then, when None)."""
    seconds = longest if when is None else (when - utcnow()).total_seconds()
    return time.monotonic() + max(0.0, min(seconds, longest))


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
            problem = self.worker.problem()
            if problem:
                log.error("webhook deliveries are not sent: %s", problem)
                return
            while True:
                try:
                    self.worker.run("forever")
                    return
                except Exception:  # a bug: say so, and keep delivering
                    log.exception("webhook worker failed; restarting in 5 s")
                    if self.worker._stopping.wait(5):
                        return

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self._thread is not None:
            # Attempts under way end by their deadline; a little more for the last writes.
            self._thread.join(timeout=self.worker.sender.timeout + 5 if self.worker else 30)
