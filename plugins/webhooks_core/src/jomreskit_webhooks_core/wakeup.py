"""Waking workers when a transaction that queued deliveries commits, instead of polling.

- In the same process (the worker thread of `jomreskit serve`): an ``after_commit`` listener
  on the site's sessions sets a ``threading.Event``.
- Across processes on PostgreSQL: the queueing transaction itself sends
  ``NOTIFY jomreskit_webhooks`` (the outbox's INSERT does it in the same statement), which
  PostgreSQL delivers when, and only if, the transaction commits; every worker LISTENs.
- Across processes on SQLite: a worker watches ``PRAGMA data_version`` on a connection of its
  own, which changes whenever another connection commits; checking it is a few microseconds
  and takes no lock. It looks every 2 ms while the site is busy, every 20 ms once it has been
  quiet for 5 s.

Workers also wake on their own when the next retry falls due.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from jomreskit import Kit

log = logging.getLogger("jomreskit.webhooks")

CHANNEL = "jomreskit_webhooks"
# SQLite: how often a worker reads data_version while the site is busy, and once it has been
# quiet for a while (a read is a few microseconds, but at 500 a second an idle worker would
# still use a few per cent of a core).
BUSY_POLL = 0.002
QUIET_AFTER = 5.0
QUIET_POLL = 0.02
_FLAG = "jomreskit_webhooks_queued"
_STATE = "jomreskit_webhooks_core"
_lock = threading.Lock()


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (database drivers add hints on more lines)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class Waker:
    """What a worker's loop waits on between rounds: new work that may be due (``set``), or
    an attempt of its own that finished (``nudge``)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._work = False

    def set(self) -> None:
        self._work = True
        self._event.set()

    def nudge(self) -> None:
        self._event.set()

    def wait(self, timeout: float | None) -> bool:
        """Wait until set, nudged, or ``timeout``; True when new work was announced."""
        self._event.wait(timeout)
        self._event.clear()
        work, self._work = self._work, False
        return work


def waker(kit: Kit) -> Waker:
    """The site's in-process waker, with its commit listener installed on first use."""
    found = kit.app.extensions.get(_STATE)
    if found is not None:
        return found
    with _lock:
        found = kit.app.extensions.get(_STATE)
        if found is None:
            found = Waker()

            def _after_commit(session: Session) -> None:
                if session.info.pop(_FLAG, False):
                    found.set()

            def _after_rollback(session: Session) -> None:
                session.info.pop(_FLAG, None)

            factory = kit.session.session_factory
            event.listen(factory, "after_commit", _after_commit)
            event.listen(factory, "after_soft_rollback", lambda s, _t: _after_rollback(s))
            kit.app.extensions[_STATE] = found
        return found


# PostgreSQL sends it at commit, once per transaction however often it was asked for.
NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', '')")


def queued(kit: Kit, session: Session, notified: bool = False) -> None:
    """Note that ``session``'s transaction queued deliveries: wake workers when it commits.

    ``notified``: the queueing statement already sent the NOTIFY (the outbox's does).
    """
    waker(kit)
    if session.info.get(_FLAG):
        return
    session.info[_FLAG] = True
    if not notified and kit.engine.dialect.name == "postgresql":
        session.execute(NOTIFY)


class Watcher:
    """Wakes a worker on commits made by other processes (see the module docstring)."""

    def __init__(self, kit: Kit, target: Waker) -> None:
        self.kit = kit
        self.target = target
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        name = self.kit.engine.dialect.name
        run = {"postgresql": self._listen, "sqlite": self._watch}.get(name)
        if run is None:  # another database: the worker's own timer still picks rows up
            return
        self._thread = threading.Thread(target=run, name="jomreskit-webhooks-watcher",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self.kit.engine.raw_connection()
            except Exception as exc:
                log.warning("cannot LISTEN for new deliveries: %s", first_line(exc))
                self._stop.wait(5)
                continue
            connection: Any = raw.driver_connection
            try:
                raw.detach()  # not returned to the pool: this connection only listens
                connection.rollback()
                connection.autocommit = True
                connection.execute(f"LISTEN {CHANNEL}")
                self.target.set()  # anything queued while we were not listening
                while not self._stop.is_set():
                    for _notify in connection.notifies(timeout=0.5, stop_after=1):
                        self.target.set()
            except Exception as exc:
                # The worker's own line says the database was lost; this is the detail.
                log.info("LISTEN connection lost, listening again: %s", first_line(exc))
                self._stop.wait(1)
            finally:
                try:
                    # Detached: closed as it is, not reset through the pool (a lost
                    # connection's reset fails, loudly).
                    connection.close()
                except Exception:
                    pass

    def _watch(self) -> None:
        path = self.kit.engine.url.database
        if not path or path == ":memory:":
            return
        connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            last = connection.execute("PRAGMA data_version").fetchone()[0]
            changed_at = time.monotonic()
            while not self._stop.wait(BUSY_POLL if time.monotonic() - changed_at < QUIET_AFTER
                                      else QUIET_POLL):
                version = connection.execute("PRAGMA data_version").fetchone()[0]
                if version != last:
                    last, changed_at = version, time.monotonic()
                    self.target.set()
        finally:
            connection.close()
