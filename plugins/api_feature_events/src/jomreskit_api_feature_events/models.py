"""The feed's own tables: each API key's acknowledged position, and how far pruning has gone.

The feed itself is the core's ``events`` table, to which this plugin's migration adds
``feed_xid``: the transaction that recorded each event (see ``horizon``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from jomreskit.db import Base, utcnow


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
