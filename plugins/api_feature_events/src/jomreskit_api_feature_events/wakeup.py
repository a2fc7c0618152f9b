"""Waking long-polling readers when events commit, without a query per reader.

All readers waiting in one process share one ``FeedWaker``: a generation counter under a
condition variable. It moves when:

- this process commits a transaction that fired an event (an ``after_commit`` listener on the
  site's sessions; ``event_fired`` marks the session);
- on PostgreSQL, another process does: the firing transaction sends ``NOTIFY
  jomreskit_events``, delivered at commit, and one thread per process LISTENs (a site in a
  schema other than ``public`` adds the schema's name: a notification reaches the whole
  database, and sites side by side in one would wake each other's readers for nothing);
- on SQLite, another process commits anything: one thread reads ``PRAGMA data_version`` on a
  connection of its own (microseconds, no lock) while readers wait.

The watching thread runs only while someone waits, and leaves a few seconds after the last.

Each waiting reader holds a server thread, so waiting is capped (``room``): so many per API key
and so many in all per process (``JOMRESKIT_EVENTS_WAITING_PER_KEY``,
``JOMRESKIT_EVENTS_WAITING``); a reader beyond them is told to come back (429), and the threads
other requests need stay free.

None of these fires when a transaction that fired nothing ends, yet that can settle events held
back behind it (see ``horizon``). So readers waiting on held-back events say which one they
wait for, and one more thread per process reads the horizon for all of them, sooner at first
and then once a second, while any of them waits: 200 such readers cost one query a second,
not 200. It wakes them when the horizon passes the first event one of them waits for.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from . import horizon, settings
from .cursor import Position

if TYPE_CHECKING:
    from jomreskit import Kit

log = logging.getLogger("jomreskit.events")

CHANNEL = "jomreskit_events"
NOTIFY = text("SELECT pg_notify(:channel, '')")
SCHEMA = "SELECT current_schema()"
_FIRED = "jomreskit_event_feed_fired"
_STATE = "jomreskit_api_feature_events.waker"
SQLITE_CHECK_SECONDS = 0.01
IDLE_SECONDS = 5.0  # the watcher stays this long after the last reader left
RECHECK_FIRST, RECHECK_MAX = 0.05, 1.0  # seconds between horizon reads, while events are held
_lock = threading.Lock()


class NoRoomToWait(Exception):
    """A reader would wait beyond the caps: its key's, or the process's."""

    def __init__(self, whose: str, cap: int) -> None:
        super().__init__(f"{cap} long polls of {whose} are waiting already")
        self.whose = whose
        self.cap = cap


class FeedWaker:
    """What long-polling readers of one site wait on."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.per_key, self.in_all = settings.waiting_caps(kit)
        self._rooms: Counter[int] = Counter()  # api_key_id -> readers of that key waiting
        self.generation = 0
        self._condition = threading.Condition()
        self._waiting = 0
        self._left_at = time.monotonic()
        self._watcher: threading.Thread | None = None
        self.horizon: int | None = None  # as the rechecking thread read it last
        self._held: list[Position] = []  # what each reader waiting on held-back events waits for
        self._rechecker: threading.Thread | None = None
        self._channel: str | None = None

    def channel(self, session: Session) -> str:
        """The name this site's notifications go by (looked up once, on ``session``)."""
        if self._channel is None:
            self._channel = channel(session.scalar(text(SCHEMA)))
        return self._channel

    @contextmanager
    def room(self, api_key_id: int) -> Iterator[None]:
        """Hold one of the places for waiting readers while the block runs; NoRoomToWait when
        the key, or the process, has all its places taken."""
        with self._condition:
            if self._rooms[api_key_id] >= self.per_key:
                raise NoRoomToWait("this API key", self.per_key)
            if self._rooms.total() >= self.in_all:
                raise NoRoomToWait("all API keys in this server process", self.in_all)
            self._rooms[api_key_id] += 1
        try:
            yield
        finally:
            with self._condition:
                self._rooms[api_key_id] -= 1
                if not self._rooms[api_key_id]:
                    del self._rooms[api_key_id]

    @property
    def waiting_readers(self) -> int:
        """How many readers hold a place to wait (``room``)."""
        with self._condition:
            return self._rooms.total()

    @property
    def held_readers(self) -> int:
        """How many readers wait on events held back behind a running transaction."""
        with self._condition:
            return len(self._held)

    def wake(self) -> None:
        with self._condition:
            self.generation += 1
            self._condition.notify_all()

    def wait(self, seen: int, timeout: float, held: Position | None = None) -> bool:
        """Wait until the generation moves past ``seen``, or the horizon passes ``held`` (an
        event held back behind a running transaction), or ``timeout``; True unless timed out."""
        dialect = self.kit.engine.dialect.name

        def ready() -> bool:
            return self.generation != seen or (
                held is not None and self.horizon is not None
                and horizon.passes(dialect, self.horizon, held))

        with self._condition:
            self._waiting += 1
            self._watch()
            if held is not None:
                self._held.append(held)
                self._recheck()
            try:
                return self._condition.wait_for(ready, timeout)
            finally:
                self._waiting -= 1
                self._left_at = time.monotonic()
                if held is not None:
                    self._held.remove(held)

    def _recheck(self) -> None:
        # Called holding the condition; the thread clears ``_rechecker`` under it as it leaves,
        # so a reader arriving then starts the next one.
        if self._rechecker is None:
            self._rechecker = threading.Thread(target=self._read_horizon, daemon=True,
                                               name="jomreskit-events-horizon")
            self._rechecker.start()

    def _read_horizon(self) -> None:
        dialect = self.kit.engine.dialect.name
        delay = RECHECK_FIRST
        try:
            with self.kit.engine.connect() as connection:
                while True:
                    time.sleep(delay)
                    with self._condition:
                        # Readers a wake-up answered often wait again at once: staying a moment
                        # keeps the backoff (and the connection) rather than starting afresh.
                        if not self._held and time.monotonic() - self._left_at > RECHECK_MAX:
                            self._rechecker = None
                            return
                        if not self._held:
                            continue
                    read = horizon.now(connection)
                    connection.rollback()  # no transaction left open between two reads
                    delay = min(delay * 2, RECHECK_MAX)
                    with self._condition:
                        self.horizon = read
                        if any(horizon.passes(dialect, read, held) for held in self._held):
                            self._condition.notify_all()
                            delay = RECHECK_FIRST  # the woken may wait on the next ones
        except Exception as exc:  # the next reader to wait on held-back events starts another
            log.warning("cannot read the event feed's horizon: %s", exc)
        with self._condition:
            self._rechecker = None

    def _watch(self) -> None:
        # Called holding the condition: at most one watcher thread at a time.
        if self._watcher is not None and self._watcher.is_alive():
            return
        run = {"postgresql": self._listen, "sqlite": self._check_data_version}.get(
            self.kit.engine.dialect.name)
        if run is None:  # another database: readers wake at commits of this process only
            return
        self._watcher = threading.Thread(target=run, name="jomreskit-events-watcher",
                                         daemon=True)
        self._watcher.start()

    def _idle(self) -> bool:
        with self._condition:
            return self._waiting == 0 and time.monotonic() - self._left_at > IDLE_SECONDS

    def _listen(self) -> None:
        try:
            raw = self.kit.engine.raw_connection()
        except Exception as exc:  # the next waiting reader starts another watcher
            log.warning("cannot LISTEN for new events: %s", exc)
            return
        try:
            connection: Any = raw.driver_connection
            raw.detach()  # not returned to the pool: this connection only listens
            connection.rollback()
            connection.autocommit = True
            name = channel(connection.execute(SCHEMA).fetchone()[0])
            connection.execute('LISTEN "{}"'.format(name.replace('"', '""')))
            self.wake()  # whatever committed before we listened
            while not self._idle():
                for _notify in connection.notifies(timeout=0.5, stop_after=1):
                    self.wake()
        except Exception as exc:  # the next waiting reader starts another watcher
            log.warning("LISTEN for new events failed: %s", exc)
        finally:
            raw.close()

    def _check_data_version(self) -> None:
        path = self.kit.engine.url.database
        if not path or path == ":memory:":
            return
        connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            last = connection.execute("PRAGMA data_version").fetchone()[0]
            while not self._idle():
                time.sleep(SQLITE_CHECK_SECONDS)
                version = connection.execute("PRAGMA data_version").fetchone()[0]
                if version != last:
                    last = version
                    self.wake()
        finally:
            connection.close()


def channel(schema: str | None) -> str:
    """The notification channel of a site whose tables are in ``schema``."""
    if schema in (None, "public"):
        return CHANNEL
    return f"{CHANNEL}:{schema}"[:63]  # longer names are refused; a clash only wakes more


def waker(kit: Kit) -> FeedWaker:
    """The site's waker, with its commit listener installed on first use."""
    found = kit.app.extensions.get(_STATE)
    if found is not None:
        return found
    with _lock:
        found = kit.app.extensions.get(_STATE)
        if found is None:
            found = FeedWaker(kit)

            def _after_commit(session: Session) -> None:
                if session.info.pop(_FIRED, False):
                    found.wake()

            factory = kit.session.session_factory
            event.listen(factory, "after_commit", _after_commit)
            event.listen(factory, "after_soft_rollback",
                         lambda session, _t: session.info.pop(_FIRED, None))
            kit.app.extensions[_STATE] = found
        return found


def fired(kit: Kit, session: Session) -> None:
    """Note that ``session``'s transaction fired an event: wake readers when it commits."""
    found = waker(kit)
    if session.info.get(_FIRED):
        return
    session.info[_FIRED] = True
    if kit.engine.dialect.name == "postgresql":
        # sent at commit, once per transaction
        session.execute(NOTIFY, {"channel": found.channel(session)})
