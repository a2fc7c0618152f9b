"""What this plugin adds to the database: an index to find a room type's rates by date, and the
stay restrictions of each room type's nights.

Declared on the shared metadata (as the search plugin declares its index on ``rooms``), so the
models describe the database whole; the migrations create them.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from jomreskit.db import Base
from jomreskit.domain import Tariff

RATES_INDEX = Index("ix_tariffs_property_uid_room_type_valid_from", Tariff.property_uid,
                    Tariff.room_type, Tariff.valid_from)


class Restriction(Base):
    """The stay restrictions of one room type's night: one row per (property, room type, date),
    one nullable column per restriction (``None``: not restricted).

    The primary key is what keeps one value per night and restriction when writes race: a
    write is one ``INSERT ... ON CONFLICT DO UPDATE`` of the columns it sets, so it never adds a
    second row for a night and never touches a restriction it does not name.
    """

    __tablename__ = "room_type_restrictions"

    property_uid: Mapped[int] = mapped_column(
        ForeignKey("properties.property_uid", ondelete="CASCADE"), primary_key=True)
    room_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    min_stay_arrival: Mapped[int | None] = mapped_column(Integer)
    min_stay_through: Mapped[int | None] = mapped_column(Integer)
    max_stay: Mapped[int | None] = mapped_column(Integer)
    closed_to_arrival: Mapped[bool | None] = mapped_column(Boolean)
    closed_to_departure: Mapped[bool | None] = mapped_column(Boolean)
    stop_sell: Mapped[bool | None] = mapped_column(Boolean)
