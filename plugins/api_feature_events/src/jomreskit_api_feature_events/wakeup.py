"""Waking long-polling readers when events commit, without a query per reader.

All readers waiting in one process share one ``FeedWaker``: a generation counter under a
condition variable. It moves when:

- this process commits a transaction that fired an event (an ``after_commit`` listener on the
  site's sessions; ``event_fired`` marks the session);
- on PostgreSQL, another process does: the firing transaction sends ``NOTIFY
  jomreskit_events``, delivered at commit, and one thread per process LISTENs;
- on SQLite, another process commits anything: one thread reads ``PRAGMA data_version`` on a
  connection of its own (microseconds, no lock) while readers wait.

The watching thread runs only while someone waits, and leaves a few seconds after the last.
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

log = logging.getLogger("jomreskit.events")

CHANNEL = "jomreskit_events"
NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', '')")
_FIRED = "jomreskit_event_feed_fired"
_STATE = "jomreskit_api_feature_events.waker"
SQLITE_CHECK_SECONDS = 0.01
IDLE_SECONDS = 5.0  # the watcher stays this long after the last reader left
_lock = threading.Lock()


class FeedWaker:
    """What long-polling readers of one site wait on."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.generation = 0
        self._condition = threading.Condition()
        self._waiting = 0
        self._left_at = time.monotonic()
        self._watcher: threading.Thread | None = None

    def wake(self) -> None:
        with self._condition:
            self.generation += 1
            self._condition.notify_all()

    def wait(self, seen: int, timeout: float) -> bool:
        """Wait until the generation moves past ``seen`` or ``timeout``; True when it moved."""
        with self._condition:
            self._waiting += 1
            self._watch()
            try:
                return self._condition.wait_for(lambda: self.generation != seen, timeout)
            finally:
                self._waiting -= 1
                self._left_at = time.monotonic()

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
            connection.execute(f"LISTEN {CHANNEL}")
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
    waker(kit)
    if session.info.get(_FIRED):
        return
    session.info[_FIRED] = True
    if kit.engine.dialect.name == "postgresql":
        session.execute(NOTIFY)  # sent at commit, once per transaction
