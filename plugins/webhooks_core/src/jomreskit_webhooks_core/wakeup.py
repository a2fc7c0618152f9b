"""Waking workers when a transaction that queued deliveries commits, instead of polling.

The transaction notifies the site's ``jomreskit_webhooks`` channel (``jomreskit.db.waker``):
at its commit, workers in this process wake at once, and those of other processes through the
database (LISTEN/NOTIFY on PostgreSQL, where the outbox's INSERT sends the NOTIFY in the same
statement; ``PRAGMA data_version`` on SQLite). Workers also wake on their own when the next
retry falls due, and when an attempt of their own finishes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jomreskit import db

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from jomreskit import Kit

CHANNEL = "jomreskit_webhooks"


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (database drivers add hints on more lines)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def waker(kit: Kit) -> db.Waker:
    """The site's channel for new deliveries, made (with its commit listener) on first use."""
    return db.waker(kit, CHANNEL)


def channel(kit: Kit, session: Session) -> str:
    """The name the site's NOTIFY for new deliveries goes by (for a statement that sends it)."""
    return waker(kit).channel(session)


def queued(kit: Kit, session: Session, notified: bool = False) -> None:
    """Note that ``session``'s transaction queued deliveries: wake workers when it commits.

    ``notified``: the queueing statement already sent the NOTIFY (the outbox's does).
    """
    waker(kit).notify(session, sent=notified)


class Waker:
    """What one worker's loop waits on between rounds: new work that may be due (a commit
    that queued deliveries, here or in another process), or an attempt of its own that
    finished (``nudge``)."""

    def __init__(self, kit: Kit) -> None:
        self._waker = waker(kit)
        self._seen = self._waker.generation
        self._nudged = False

    def nudge(self) -> None:
        self._nudged = True
        self._waker.recheck()

    def wait(self, timeout: float | None) -> bool:
        """Wait until new work, a nudge, or ``timeout``; True when new work was announced."""
        self._waker.wait(self._seen, timeout, until=lambda: self._nudged)
        self._nudged = False
        seen, self._seen = self._seen, self._waker.generation
        return seen != self._seen
