"""Keeping ``search_property_features`` in step with the properties and rooms it is made from."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from jomreskit.domain import Property, Room

from .models import MAX_FEATURE, PropertyFeature

# The events after which a property's features may have changed.
EVENTS = frozenset({
    "property_created", "property_updated", "property_deleted",
    "room_added", "room_updated", "room_deleted",
})


def normalise(features: Iterable[Any] | None) -> set[str]:
    """The searchable form of a features list: trimmed, lower case, no blanks or giants."""
    found = set()
    for feature in features or ():
        word = str(feature).strip().lower()
        if word and len(word) <= MAX_FEATURE:
            found.add(word)
    return found


def reindex_property(session: Session, property_uid: int) -> None:
    """Rewrite one property's rows (none once the property is gone).

    The property's row is locked first (``FOR NO KEY UPDATE`` on PostgreSQL, until the
    transaction ends): two transactions rewriting the same rows at once would each delete
    only what was committed before it began and then insert a row the other inserted too.
    Locked, the second waits, then deletes what the first wrote. SQLite's writers take turns.
    """
    prop = session.get(Property, property_uid, populate_existing=True,
                       with_for_update={"key_share": True})
    session.execute(delete(PropertyFeature).where(PropertyFeature.property_uid == property_uid))
    if prop is None:
        return
    found = normalise(prop.features)
    for room_features in session.scalars(select(Room.features)
                                         .where(Room.property_uid == property_uid)):
        found |= normalise(room_features)
    if found:
        session.execute(insert(PropertyFeature),
                        [{"feature": f, "property_uid": property_uid} for f in sorted(found)])


def reindex(session: Session) -> int:
    """Rebuild the whole table from every property and room; returns the rows written."""
    found: dict[int, set[str]] = {}
    for property_uid, features in session.execute(select(Property.property_uid,
                                                         Property.features)):
        found[property_uid] = normalise(features)
    for property_uid, features in session.execute(select(Room.property_uid, Room.features)):
        found.setdefault(property_uid, set()).update(normalise(features))
    rows = [{"feature": f, "property_uid": uid} for uid, fs in found.items() for f in sorted(fs)]
    session.execute(delete(PropertyFeature))
    for at in range(0, len(rows), 5000):
        session.execute(insert(PropertyFeature), rows[at:at + 5000])
    return len(rows)
