"""Which events have a final place in the feed: the only ones it hands out.

Event ids are taken when a transaction inserts, but transactions commit in their own order, so
a reader that saw event 11 may later find event 10 committed behind it. The feed therefore reads
in ``(feed_xid, id)`` order and only below a horizon that nothing can still appear under:

- PostgreSQL: every event records the id of its transaction (``feed_xid``, filled by the
  column's default). Every transaction with an id below the reader's snapshot ``xmin`` has
  ended, so the events below it are all the events there will ever be down there; new
  transactions get higher ids. The price: a long transaction holds the feed back until it ends.
- SQLite: one writer at a time (the write lock, taken by the insert at the latest and held to
  the commit), so ids are taken in commit order;
  ``feed_xid`` stays 0 and the horizon is the newest id committed.

The horizon is read once and then passed as a number, so a page and the cursor that follows it
describe the same settled set even though each statement sees newer commits. Readers whose
events are held back wait for the horizon to pass the first of them (``passes``); one thread per
process reads it for all of them (see ``wakeup``).

The order is written per database too: PostgreSQL walks the ``(feed_xid, id)`` index with a
row comparison; SQLite would not use that index for one, and there ``feed_xid`` is always 0.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    String,
    column,
    func,
    select,
    table,
    text,
    tuple_,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import JSON

from jomreskit.db import UTCDateTime

from .cursor import Position

EVENTS = table(
    "events",
    column("id", Integer),
    column("name", String),
    column("ids", JSON),
    column("created_at", UTCDateTime(timezone=True)),
    column("feed_xid", BigInteger),  # added by this plugin's migration
    column("origin", String),  # the writing API key's client id, for a change made through it
)

_XMIN = text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


def now(connection: Session | Connection) -> int:
    """The horizon as of now: PostgreSQL's snapshot xmin, SQLite's newest event id."""
    if _dialect(connection) == "postgresql":
        return int(connection.scalar(_XMIN))
    return int(connection.scalar(select(func.coalesce(func.max(EVENTS.c.id), 0))))


def settled(session: Session, horizon: int | None = None) -> ColumnElement[bool]:
    """The condition that holds for every event whose place in the feed is final, as of now
    (or as of ``horizon``, read before with ``now``)."""
    horizon = now(session) if horizon is None else horizon
    if _dialect(session) == "postgresql":
        return EVENTS.c.feed_xid < horizon
    return EVENTS.c.id <= horizon


def edge(session: Session, horizon: int) -> Position:
    """The position of ``horizon`` itself: every event settled there is at or before it, every
    event not yet settled after it. A reader that has read every settled event it may see can
    read on from here, past the other managers' events without a look at them."""
    if _dialect(session) == "postgresql":
        return Position(horizon, 0)  # event ids start at 1: (horizon, 0) < (horizon, id)
    return Position(0, horizon)


def passes(dialect: str, horizon: int, position: Position) -> bool:
    """Whether the event at ``position`` is settled once the horizon reads ``horizon``."""
    if dialect == "postgresql":
        return horizon > position.xid
    return horizon >= position.event_id


def _dialect(connection: Session | Connection) -> str:
    if isinstance(connection, Session):
        return connection.get_bind().dialect.name
    return connection.dialect.name


def after(session: Session, position: Position | tuple[Any, Any]) -> ColumnElement[bool]:
    """The condition of the events after ``position`` in the feed's order: a position, or the
    two columns (xid, event id) that hold one, to compare with many stored cursors at once."""
    xid, event_id = position
    if session.get_bind().dialect.name == "postgresql":
        return tuple_(EVENTS.c.feed_xid, EVENTS.c.id) > tuple_(xid, event_id)
    return EVENTS.c.id > event_id


def order(session: Session, descending: bool = False) -> list[ColumnElement[int]]:
    """The feed's order, oldest first (or newest first)."""
    columns = ([EVENTS.c.feed_xid, EVENTS.c.id]
               if session.get_bind().dialect.name == "postgresql" else [EVENTS.c.id])
    return [c.desc() for c in columns] if descending else list(columns)
