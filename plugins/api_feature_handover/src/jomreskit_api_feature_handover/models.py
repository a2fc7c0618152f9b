"""The handover's tables: each revision of a booking, and each key's acknowledgement of one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from jomreskit.db import Base, utcnow


class BookingRevision(Base):
    """One change to a booking: made by the booking event that recorded it, in its transaction.

    ``revision`` is that event's id (the ``id`` the event feed shows): unique on the site and
    growing, so a later change to the booking is always a higher revision. ``alarmed_at`` is
    set, once, when ``booking_unacknowledged`` fired for it.
    """

    __tablename__ = "handover_revisions"

    revision: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    property_uid: Mapped[int] = mapped_column(Integer)
    contract_uid: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    alarmed_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_handover_revisions_property_uid_revision", "property_uid", "revision"),
        Index("ix_handover_revisions_contract_uid", "contract_uid"),
        # The watermark's look at what is still settling, and pruning, read by time.
        Index("ix_handover_revisions_recorded_at", "recorded_at"),
    )


class Acknowledgement(Base):
    """An API key took a revision: it is never listed to that key again."""

    __tablename__ = "handover_acknowledgements"

    api_key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    revision: Mapped[int] = mapped_column(
        ForeignKey("handover_revisions.revision", ondelete="CASCADE"), primary_key=True,
        index=True)
    acknowledged_at: Mapped[datetime] = mapped_column(default=utcnow)


class Watermark(Base):
    """How far back a key's list need not look: every revision below ``below`` that the key
    may see it has acknowledged. Moved on by its acknowledgements, so the list reads from there
    and not over the whole acknowledged history."""

    __tablename__ = "handover_watermarks"

    api_key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    below: Mapped[int] = mapped_column(BigInteger)
