"""The search's own table: the features each property offers, one row per feature."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from jomreskit.db import Base
from jomreskit.domain import Room

MAX_FEATURE = 255


class PropertyFeature(Base):
    """A feature a property offers, on itself or on one of its rooms, in lower case.

    Features are JSON lists on properties and rooms, which neither SQLite nor PostgreSQL can
    index the same way; this table makes "has wifi" one index lookup. It is kept up to date
    from the property and room events (``features.reindex_property``) and can be rebuilt whole
    with `jomreskit search reindex`.
    """

    __tablename__ = "search_property_features"

    feature: Mapped[str] = mapped_column(String(MAX_FEATURE), primary_key=True)
    property_uid: Mapped[int] = mapped_column(
        ForeignKey("properties.property_uid", ondelete="CASCADE"), primary_key=True, index=True
    )


# Availability joins each property to its rooms and sums their places; with this index it reads
# both from the index alone, never from the rooms table. (room_uid, date) is already unique on
# room_bookings, which is what the "no booking on those nights" probe uses.
ROOMS_CAPACITY_INDEX = Index(
    "ix_search_rooms_property_uid_room_uid_max_people",
    Room.property_uid, Room.room_uid, Room.max_people,
)
