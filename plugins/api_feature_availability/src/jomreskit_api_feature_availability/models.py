"""What this plugin adds to the core's tables: an index to find a room type's rates by date.

Declared on the shared metadata (as the search plugin declares its index on ``rooms``), so the
models describe the database whole; the migration creates it.
"""

from __future__ import annotations

from sqlalchemy import Index

from jomreskit.domain import Tariff

RATES_INDEX = Index("ix_tariffs_property_uid_room_type_valid_from", Tariff.property_uid,
                    Tariff.room_type, Tariff.valid_from)
