"""Waking threads that wait for other transactions to commit, in this process or in another.

A ``Waker`` is one channel of one site: ``waker(kit, "jomreskit_webhooks")`` is webhooks_core's,
whose workers wait for new deliveries. A transaction that has something for the waiters calls
``notify(session)``; when, and only if, it commits:

- waiters in this process wake at once (an ``after_commit`` listener on the site's sessions);
- on PostgreSQL, waiters in other processes wake too: the transaction sends ``pg_notify``,
  which PostgreSQL delivers at commit, and each process with waiters LISTENs on one connection
  of its own. A site whose tables are in a schema other than ``public`` adds the schema to the
  channel's name: a notification reaches the whole database, and sites side by side in one
  would wake each other's waiters for nothing;
- on SQLite, which has no channels, one thread per process reads ``PRAGMA data_version`` on a
  connection of its own: it changes whenever another connection commits anything, and reading
  it takes microseconds and no lock. It looks every 2 ms while commits come, every 10 ms once
  none came for 5 s.

A waiter reads ``generation``, looks at the database, then ``wait``s for the generation to move
past what it read: a commit in between is not missed. The watching thread (LISTEN, or
data_version) runs while someone waits and for 5 s after the last one left. Whenever it starts,
or listens again after losing its connection, it wakes every waiter once: it cannot know what
committed while nobody watched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from .kit import Kit

log = logging.getLogger("jomreskit.wakeup")

NOTIFY = text("SELECT pg_notify(:channel, '')")
SCHEMA = "SELECT current_schema()"
IDLE_SECONDS = 5.0  # the watching thread stays this long after the last waiter left
BUSY_POLL, QUIET_AFTER, QUIET_POLL = 0.002, 5.0, 0.01  # SQLite: seconds between reads
LISTEN_ROUND = 0.5  # seconds a listener waits for notifications before it looks for waiters
LISTEN_AGAIN, CONNECT_AGAIN = 1.0, 5.0  # seconds before listening again: lost; cannot connect
_STATE = "jomreskit.wakers"
_lock = threading.Lock()


class Waker:
    """Waiters on one channel, woken by commits that ``notify`` it (see the module docstring).

    ``sessions``: the site's session factory, whose commits wake this process's waiters at
    once; without it they wake through the database as other processes' waiters do.
    """

    def __init__(self, engine: Engine, name: str, sessions: sessionmaker | None = None) -> None:
        self.engine = engine
        self.name = name
        self.generation = 0  # moves each time the waiters are woken
        self._condition = threading.Condition()
        self._waiting = 0
        self._left_at = time.monotonic()
        self._watcher: threading.Thread | None = None
        self._channel: str | None = None
        self._notified = f"jomreskit_notify:{name}"  # Session.info: this transaction notified
        if sessions is not None:
            event.listen(sessions, "after_commit", self._after_commit)
            event.listen(sessions, "after_soft_rollback", self._after_rollback)

    def channel(self, connection: Session | Connection) -> str:
        """The name this waker's notifications go by on PostgreSQL (with the site's schema
        unless it is ``public``), read once through ``connection``."""
        if self._channel is None:
            self._channel = self._in_schema(connection.scalar(text(SCHEMA)))
        return self._channel

    def _in_schema(self, schema: str | None) -> str:
        if schema in (None, "public"):
            return self.name
        return f"{self.name}:{schema}"[:63]  # longer names are refused; a clash only wakes more

    def notify(self, session: Session, sent: bool = False) -> None:
        """Wake this channel's waiters, here and in other processes, when ``session``'s
        transaction commits; nothing if it rolls back. Once per transaction, however often
        called. ``sent``: a statement of the transaction has sent ``pg_notify`` on
        ``channel(session)`` itself (saving the round trip of one more)."""
        if session.info.get(self._notified):
            return
        session.info[self._notified] = True
        if not sent and self.engine.dialect.name == "postgresql":
            session.execute(NOTIFY, {"channel": self.channel(session)})

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(self._notified, False):
            self.wake()

    def _after_rollback(self, session: Session, _transaction: Any) -> None:
        # A rolled-back savepoint takes its pg_notify with it: the next notify sends one again.
        session.info.pop(self._notified, None)

    def wake(self) -> None:
        """Wake this process's waiters now, moving the generation."""
        with self._condition:
            self.generation += 1
            self._condition.notify_all()

    def recheck(self) -> None:
        """Have this process's waiters ask their ``until`` again, without moving the
        generation (something they wait for besides commits may have happened)."""
        with self._condition:
            self._condition.notify_all()

    def wait(self, seen: int, timeout: float | None,
             until: Callable[[], bool] | None = None) -> bool:
        """Wait until the generation moves past ``seen``, or ``until()`` (asked again at each
        ``recheck``) is true, or ``timeout`` seconds; True unless timed out."""

        def ready() -> bool:
            return self.generation != seen or (until is not None and until())

        with self._condition:
            self._waiting += 1
            self._watch()
            try:
                return self._condition.wait_for(ready, timeout)
            finally:
                self._waiting -= 1
                self._left_at = time.monotonic()

    @property
    def watching(self) -> bool:
        """Whether a thread watches for other processes' commits now."""
        with self._condition:
            return self._watcher is not None

    def _watch(self) -> None:
        # Called holding the condition. The thread clears ``_watcher`` under it as it decides
        # to leave, so a waiter arriving then starts the next one.
        if self._watcher is not None:
            return
        run = {"postgresql": self._listen, "sqlite": self._read_data_version}.get(
            self.engine.dialect.name)
        if run is None:  # another database: waiters wake at commits of this process only
            return
        self._watcher = threading.Thread(target=self._watching, args=(run,), daemon=True,
                                         name=f"jomreskit-waker-{self.name}")
        self._watcher.start()

    def _watching(self, run: Callable[[], None]) -> None:
        try:
            run()
        except Exception as exc:  # the next waiter starts another
            log.warning("cannot watch for commits on %s: %s", self.name, _first_line(exc))
        finally:
            with self._condition:
                if self._watcher is threading.current_thread():
                    self._watcher = None

    def _idle(self) -> bool:
        """Whether nobody waited for a while; if so, the watching thread leaves."""
        with self._condition:
            if self._waiting or time.monotonic() - self._left_at <= IDLE_SECONDS:
                return False
            self._watcher = None
            return True

    def _listen(self) -> None:
        while True:
            try:
                raw = self.engine.raw_connection()
            except Exception as exc:
                log.warning("cannot LISTEN on %s: %s", self.name, _first_line(exc))
                time.sleep(CONNECT_AGAIN)
                if self._idle():
                    return
                continue
            connection: Any = raw.driver_connection  # psycopg's, for its notifies()
            try:
                raw.detach()  # not returned to the pool: this connection only listens
                connection.rollback()
                connection.autocommit = True
                channel = self._in_schema(connection.execute(SCHEMA).fetchone()[0])
                connection.execute('LISTEN "{}"'.format(channel.replace('"', '""')))
                self.wake()  # whatever committed before we listened
                while not self._idle():
                    for _notify in connection.notifies(timeout=LISTEN_ROUND, stop_after=1):
                        self.wake()
                return
            except Exception as exc:
                log.info("LISTEN on %s lost, listening again: %s", self.name, _first_line(exc))
            finally:
                try:
                    # Detached: closed as it is, not reset through the pool (a lost
                    # connection's reset fails, loudly).
                    connection.close()
                except Exception:
                    pass
            time.sleep(LISTEN_AGAIN)
            if self._idle():
                return

    def _read_data_version(self) -> None:
        path = self.engine.url.database
        if not path or path == ":memory:" or path.startswith("file:"):
            return  # a database of this process alone: its commits wake through sessions
        raw = self.engine.raw_connection()
        try:
            cursor = raw.driver_connection.cursor()  # sqlite3's: microseconds a read
            raw.detach()  # not returned to the pool: this connection only reads the version
            last = cursor.execute("PRAGMA data_version").fetchone()[0]
            changed_at = time.monotonic()
            self.wake()  # whatever committed before we looked
            while not self._idle():
                time.sleep(BUSY_POLL if time.monotonic() - changed_at < QUIET_AFTER
                           else QUIET_POLL)
                version = cursor.execute("PRAGMA data_version").fetchone()[0]
                if version != last:
                    last, changed_at = version, time.monotonic()
                    self.wake()
        finally:
            raw.close()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def waker(kit: Kit, name: str) -> Waker:
    """The site's waker of channel ``name``, made on first use: what its waiters wait on, and
    what its transactions ``notify``."""
    wakers = kit.app.extensions.get(_STATE)
    found = wakers.get(name) if wakers else None
    if found is not None:
        return found
    with _lock:
        wakers = kit.app.extensions.setdefault(_STATE, {})
        if name not in wakers:
            wakers[name] = Waker(kit.engine, name, kit.session.session_factory)
        return wakers[name]
