"""The callback of ``booking_unacknowledged``: the revision no key took, and whether one has
since."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .models import BookingRevision
from .revisions import acknowledged_by_any, as_json

if TYPE_CHECKING:
    from jomreskit import Kit


def read_alarm(kit: Kit, property_uid: int, revision: int | None) -> dict[str, Any] | None:
    session = kit.session()
    found = None if revision is None else session.get(BookingRevision, revision)
    if found is None or found.property_uid != property_uid:
        return None
    return {**as_json(found), "alarmed_at": found.alarmed_at,
            "acknowledged": bool(acknowledged_by_any(session, [found.revision]))}
