"""Waking long-polling readers when events commit, without a query per reader.

Readers wait on the site's ``jomreskit_events`` channel (``jomreskit.db.waker``), which a
transaction that fired an event notifies (``fired``): when it commits, readers in this process
wake at once, and those of other processes through the database (``NOTIFY`` on PostgreSQL, sent
by the firing transaction, with the site's schema in the channel's name; ``PRAGMA data_version``
on SQLite).

Each waiting reader holds a server thread, so waiting is capped (``room``): so many per API key
and so many in all per process (``JOMRESKIT_EVENTS_WAITING_PER_KEY``,
``JOMRESKIT_EVENTS_WAITING``); a reader beyond them is told to come back (429), and the threads
other requests need stay free.

No notification comes when a transaction that fired nothing ends, yet that can settle events
held back behind it (see ``horizon``). So readers waiting on held-back events say which one
they wait for, and one more thread per process reads the horizon for all of them, sooner at
first and then once a second, while any of them waits: 200 such readers cost one query a
second, not 200. It wakes them when the horizon passes the first event one of them waits for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from jomreskit import db

from . import horizon, settings
from .cursor import Position

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from jomreskit import Kit

log = logging.getLogger("jomreskit.events")

CHANNEL = "jomreskit_events"
_STATE = "jomreskit_api_feature_events.waker"
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
        self.channel = db.waker(kit, CHANNEL)
        self.per_key, self.in_all = settings.waiting_caps(kit)
        self._lock = threading.Lock()
        self._rooms: Counter[int] = Counter()  # api_key_id -> readers of that key waiting
        self.horizon: int | None = None  # as the rechecking thread read it last
        self._held: list[Position] = []  # what each reader waiting on held-back events waits for
        self._left_at = time.monotonic()  # when the last of them left
        self._rechecker: threading.Thread | None = None

    @property
    def generation(self) -> int:
        """Moves each time readers are woken: read it before reading the feed, and ``wait``
        for it to move past what was read."""
        return self.channel.generation

    @contextmanager
    def room(self, api_key_id: int) -> Iterator[None]:
        """Hold one of the places for waiting readers while the block runs; NoRoomToWait when
        the key, or the process, has all its places taken."""
        with self._lock:
            if self._rooms[api_key_id] >= self.per_key:
                raise NoRoomToWait("this API key", self.per_key)
            if self._rooms.total() >= self.in_all:
                raise NoRoomToWait("all API keys in this server process", self.in_all)
            self._rooms[api_key_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._rooms[api_key_id] -= 1
                if not self._rooms[api_key_id]:
                    del self._rooms[api_key_id]

    @property
    def waiting_readers(self) -> int:
        """How many readers hold a place to wait (``room``)."""
        with self._lock:
            return self._rooms.total()

    @property
    def held_readers(self) -> int:
        """How many readers wait on events held back behind a running transaction."""
        with self._lock:
            return len(self._held)

    def wait(self, seen: int, timeout: float, held: Position | None = None) -> bool:
        """Wait until the generation moves past ``seen``, or the horizon passes ``held`` (an
        event held back behind a running transaction), or ``timeout``; True unless timed out."""
        if held is None:
            return self.channel.wait(seen, timeout)
        dialect = self.kit.engine.dialect.name

        def passed() -> bool:
            return self.horizon is not None and horizon.passes(dialect, self.horizon, held)

        with self._lock:
            self._held.append(held)
            self._recheck()
        try:
            return self.channel.wait(seen, timeout, until=passed)
        finally:
            with self._lock:
                self._held.remove(held)
                self._left_at = time.monotonic()

    def _recheck(self) -> None:
        # Called holding the lock; the thread clears ``_rechecker`` under it as it leaves, so
        # a reader arriving then starts the next one.
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
                    with self._lock:
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
                    with self._lock:
                        self.horizon = read
                        passed = any(horizon.passes(dialect, read, held) for held in self._held)
                    if passed:
                        self.channel.recheck()
                        delay = RECHECK_FIRST  # the woken may wait on the next ones
        except Exception as exc:  # the next reader to wait on held-back events starts another
            log.warning("cannot read the event feed's horizon: %s", exc)
        with self._lock:
            self._rechecker = None


def waker(kit: Kit) -> FeedWaker:
    """The site's waker, with its commit listener installed on first use."""
    found = kit.app.extensions.get(_STATE)
    if found is not None:
        return found
    with _lock:
        found = kit.app.extensions.get(_STATE)
        if found is None:
            found = kit.app.extensions[_STATE] = FeedWaker(kit)
        return found


def fired(kit: Kit, session: Session) -> None:
    """Note that ``session``'s transaction fired an event: wake readers when it commits."""
    db.waker(kit, CHANNEL).notify(session)
