"""The feed's own tables: each API key's acknowledged position, and how far pruning has gone;
and what this plugin adds to the core's ``events`` table.

The feed itself is the core's ``events`` table, to which this plugin's migration adds
``feed_xid``, the transaction that recorded each event (see ``horizon``), and an index in the
feed's order. They are declared here too, on the shared metadata, so that the models describe
the database whole (as the search plugin's index on ``rooms``); the core's model of an event
does not map the column, and its INSERT leaves it to the database's default.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, FetchedValue, ForeignKey, Index, Integer, Table
from sqlalchemy.orm import Mapped, mapped_column

from jomreskit.db import Base, utcnow

EVENTS_TABLE = Table(
    "events", Base.metadata,
    Column("feed_xid", BigInteger, nullable=False, server_default=FetchedValue()),
    extend_existing=True,
)
FEED_ORDER_INDEX = Index("ix_events_feed_xid_id", EVENTS_TABLE.c.feed_xid, EVENTS_TABLE.c.id)


class AcknowledgedCursor(Base):
    """The position an API key acknowledged with ``PUT /events/cursor``."""

    __tablename__ = "event_feed_cursors"

    api_key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    xid: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[int] = mapped_column(BigInteger)
    acknowledged_at: Mapped[datetime] = mapped_column(default=utcnow)


class PrunedUpTo(Base):
    """One row: the last position pruning deleted. A cursor before it has missed events."""

    __tablename__ = "event_feed_pruned"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    xid: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[int] = mapped_column(BigInteger)
    pruned_at: Mapped[datetime] = mapped_column(default=utcnow)
