"""Waking workers when a transaction that queued deliveries commits, instead of polling.

- In the same process (the worker thread of `jomreskit serve`): an ``after_commit`` listener
  on the site's sessions sets a ``threading.Event``.
- Across processes on PostgreSQL: after the commit, a thread of the firing process sends
  ``NOTIFY jomreskit_webhooks`` (so the request does not wait for it, and a burst of commits
  costs one notification); every worker LISTENs. Should the process die between its commit
  and the notification, workers still find the rows on their next look (30 s at most).
- Across processes on SQLite: a worker watches ``PRAGMA data_version`` on a connection of its
  own, which changes whenever another connection commits; checking it is a few microseconds
  and takes no lock.

Workers also wake on their own when the next retry falls due.
"""

from __future__ import annotations

import atexit
import logging
import sqlite3
import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from jomreskit.core.kit import Kit

log = logging.getLogger("jomreskit.webhooks")

CHANNEL = "jomreskit_webhooks"
_FLAG = "jomreskit_webhooks_queued"
_STATE = "jomreskit_webhooks_core"
_lock = threading.Lock()


class Waker:
    """Set when deliveries may be due; a worker waits on it between rounds."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout: float | None) -> bool:
        """Wait until set or ``timeout``; clears the flag. True when woken."""
        woken = self._event.wait(timeout)
        self._event.clear()
        return woken


def waker(kit: Kit) -> Waker:
    """The site's in-process waker, with its commit listener installed on first use."""
    found = kit.app.extensions.get(_STATE)
    if found is not None:
        return found
    with _lock:
        found = kit.app.extensions.get(_STATE)
        if found is None:
            found = Waker()
            notifier = Notifier(kit) if kit.engine.dialect.name == "postgresql" else None

            def _after_commit(session: Session) -> None:
                if session.info.pop(_FLAG, False):
                    found.set()
                    if notifier is not None:
                        notifier.poke()

            def _after_rollback(session: Session) -> None:
                session.info.pop(_FLAG, None)

            factory = kit.session.session_factory
            event.listen(factory, "after_commit", _after_commit)
            event.listen(factory, "after_soft_rollback", lambda s, _t: _after_rollback(s))
            kit.app.extensions[_STATE] = found
        return found


def queued(kit: Kit, session: Session) -> None:
    """Note that ``session``'s transaction queued deliveries: wake workers when it commits."""
    waker(kit)
    if session.info.get(_FLAG):
        return
    session.info[_FLAG] = True


class Notifier:
    """Sends ``NOTIFY`` for this process's commits from a thread of its own, which keeps one
    connection while there is work and goes away after a few idle seconds."""

    IDLE = 5.0

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._running = False
        self._sent = threading.Event()  # set when no notification is pending
        self._sent.set()
        # A short-lived process (`jomreskit events fire`) may exit before the thread ran.
        atexit.register(self.flush)

    def flush(self, timeout: float = 2.0) -> None:
        """Wait for a pending notification to go out; send it from here if it does not."""
        if not self._sent.wait(timeout):
            try:
                with self.kit.engine.connect() as connection:
                    connection.execute(text(f"NOTIFY {CHANNEL}"))
                    connection.commit()
            except Exception as exc:
                log.warning("cannot NOTIFY workers of new deliveries: %s", exc)

    def poke(self) -> None:
        with self._lock:
            self._sent.clear()
            self._event.set()
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="jomreskit-webhooks-notify",
                                 daemon=True).start()

    def _run(self) -> None:
        connection: Any = None
        try:
            while True:
                if not self._event.wait(self.IDLE):
                    with self._lock:
                        if not self._event.is_set():
                            self._running = False
                            return
                    continue
                self._event.clear()
                try:
                    if connection is None:
                        raw = self.kit.engine.raw_connection()
                        connection = raw.driver_connection
                        raw.detach()  # autocommit, and ours alone: kept out of the pool
                        connection.rollback()
                        connection.autocommit = True
                    connection.execute(f"NOTIFY {CHANNEL}")
                    with self._lock:
                        if not self._event.is_set():
                            self._sent.set()
                except Exception as exc:
                    log.warning("cannot NOTIFY workers of new deliveries: %s", exc)
                    connection = _close(connection)
        finally:
            _close(connection)


def _close(connection: Any) -> None:
    if connection is not None:
        try:
            connection.close()
        except Exception:
            pass


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
                log.warning("cannot LISTEN for new deliveries: %s", exc)
                self._stop.wait(5)
                continue
            try:
                connection: Any = raw.driver_connection
                raw.detach()  # not returned to the pool: this connection only listens
                connection.rollback()
                connection.autocommit = True
                connection.execute(f"LISTEN {CHANNEL}")
                self.target.set()  # anything queued while we were not listening
                while not self._stop.is_set():
                    for _notify in connection.notifies(timeout=0.5, stop_after=1):
                        self.target.set()
            except Exception as exc:
                log.warning("LISTEN connection lost: %s", exc)
                self._stop.wait(1)
            finally:
                try:
                    raw.close()
                except Exception:
                    pass

    def _watch(self) -> None:
        path = self.kit.engine.url.database
        if not path or path == ":memory:":
            return
        connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            last = connection.execute("PRAGMA data_version").fetchone()[0]
            while not self._stop.wait(0.002):
                version = connection.execute("PRAGMA data_version").fetchone()[0]
                if version != last:
                    last = version
                    self.target.set()
        finally:
            connection.close()
