"""Revisions of bookings, the keys that see them, and their acknowledgements.

Every booking event (``REVISING``) recorded for a property makes a revision of its contract,
inside the firing transaction: a change rolled back makes none. A key sees the revisions of the
properties its manager runs (a super manager's key: every property) recorded since the key was
created, until it acknowledges them; acknowledging is per key and per revision, in any order.

A key's list reads from its watermark on (``Watermark.below``): each acknowledgement moves it up
to the key's oldest revision still to take, so a list does not pass over the key's whole
acknowledged history, only over what it acknowledged out of order since. Revisions are event
ids, taken when a booking's transaction fires and not when it commits, so a revision can
appear below one already acknowledged; the watermark therefore never passes the revisions
recorded in the last ``SETTLING``, whose ids are all above those recorded before (no booking's
transaction lasts that long, and were one to, the revision's alarm would still fire, as no key
acknowledged it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, exists, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from jomreskit.db import utcnow
from jomreskit.domain import Contract, ManagerProperty

from .models import Acknowledgement, BookingRevision, Watermark

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from jomreskit import Event, Kit

# The events that change what a channel manager holds of a booking. Check-ins, notes and
# deposits are the property's own business; black bookings are closures, not bookings.
REVISING = ("booking_added", "booking_modified", "booking_cancelled", "booking_marked_noshow")
SETTLING = timedelta(minutes=10)  # the watermark stays below revisions this recent

_RECORD = insert(BookingRevision.__table__)


def record(kit: Kit, event: Event) -> bool:
    """Make the revision ``event`` is, when it is one (True); in the firing transaction."""
    if event.name not in REVISING:
        return False
    session = kit.session()
    contract = session.get(Contract, event.ids["contract_uid"])
    if contract is not None and contract.blackbooking:
        return False
    session.execute(_RECORD, {"revision": event.id, "property_uid": event.ids["property_uid"],
                              "contract_uid": event.ids["contract_uid"], "type": event.name,
                              "recorded_at": event.timestamp, "alarmed_at": None})
    return True


@dataclass(frozen=True)
class Reader:
    """Who lists: an API key, its manager, and since when the key exists."""

    api_key_id: int
    manager_id: int
    is_super: bool
    since: datetime


def _acknowledged_by(api_key_id: int) -> Any:
    return exists().where(Acknowledgement.api_key_id == api_key_id,
                          Acknowledgement.revision == BookingRevision.revision)


def unacknowledged(session: Session, reader: Reader, limit: int,
                   property_uid: int | None = None) -> tuple[list[BookingRevision], bool]:
    """The oldest ``limit`` revisions ``reader`` has still to take, and whether there are
    more."""
    query = select(BookingRevision).where(
        BookingRevision.revision >= _below(session, reader.api_key_id),
        BookingRevision.recorded_at >= reader.since,
        ~_acknowledged_by(reader.api_key_id))
    if property_uid is not None:
        query = query.where(BookingRevision.property_uid == property_uid)
    if not reader.is_super:
        query = query.where(BookingRevision.property_uid.in_(
            select(ManagerProperty.property_uid)
            .where(ManagerProperty.manager_id == reader.manager_id)))
    found = list(session.scalars(query.order_by(BookingRevision.revision).limit(limit + 1)))
    return found[:limit], len(found) > limit


def find(session: Session, property_uid: int, contract_uid: int,
         revision: int) -> BookingRevision | None:
    """The revision, if it is one of that booking of that property."""
    found = session.get(BookingRevision, revision)
    if found is None or (found.property_uid, found.contract_uid) != (property_uid, contract_uid):
        return None
    return found


def acknowledge(session: Session, reader: Reader, revision: int) -> datetime:
    """Record that the key took ``revision``; when it first did (acknowledging again changes
    nothing), and move the key's watermark up to its oldest revision still to take. Keys
    acknowledging at the same moment make one row: an insert that yields to one made
    meanwhile."""
    upsert = postgresql_insert if session.get_bind().dialect.name == "postgresql" \
        else sqlite_insert
    api_key_id = reader.api_key_id
    session.execute(upsert(Acknowledgement).values(
        api_key_id=api_key_id, revision=revision, acknowledged_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["api_key_id", "revision"]))
    below = _watermark(session, reader)
    session.execute(upsert(Watermark).values(api_key_id=api_key_id, below=below)
                    .on_conflict_do_update(index_elements=["api_key_id"], set_={"below": below}))
    return session.scalar(select(Acknowledgement.acknowledged_at).where(
        Acknowledgement.api_key_id == api_key_id, Acknowledgement.revision == revision))


def _below(session: Session, api_key_id: int) -> int:
    return session.scalar(select(Watermark.below).where(Watermark.api_key_id == api_key_id)) or 0


def _watermark(session: Session, reader: Reader) -> int:
    """The key's oldest revision still to take, but not past the revisions recorded within
    ``SETTLING`` (one of them may still be committing)."""
    below = _below(session, reader.api_key_id)
    oldest, _more = unacknowledged(session, reader, 1)
    settled = session.scalar(select(BookingRevision.revision).where(
        BookingRevision.recorded_at < utcnow() - SETTLING)
        .order_by(BookingRevision.recorded_at.desc()).limit(1))
    up_to = below if settled is None else max(below, settled + 1)
    return min([up_to, *(r.revision for r in oldest)])


def as_json(revision: BookingRevision) -> dict[str, Any]:
    return {"property_uid": revision.property_uid, "contract_uid": revision.contract_uid,
            "revision": revision.revision, "type": revision.type,
            "recorded_at": revision.recorded_at}


def acknowledged_by_any(session: Session, revisions: Sequence[int]) -> set[int]:
    """Which of ``revisions`` some key acknowledged."""
    if not revisions:
        return set()
    return set(session.scalars(select(Acknowledgement.revision).distinct().where(
        Acknowledgement.revision.in_(list(revisions)))))


def prune(kit: Kit, older_than: datetime) -> int:
    """Delete the revisions recorded before ``older_than`` and their acknowledgements; how many
    revisions went. Kept as long as the event feed keeps events, so a key's list (and the
    alarm's look) never grows without end."""
    with kit.transaction() as session:
        old = select(BookingRevision.revision).where(BookingRevision.recorded_at < older_than)
        session.execute(delete(Acknowledgement).where(Acknowledgement.revision.in_(old)))
        return session.execute(delete(BookingRevision).where(
            BookingRevision.recorded_at < older_than)).rowcount
