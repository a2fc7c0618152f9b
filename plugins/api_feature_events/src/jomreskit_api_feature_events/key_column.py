"""The "Event feed" column of the console's App Key Management page: how far each key has
acknowledged and how many events it has still to read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from jomreskit_api_core import ApiKey, KeyColumn
from sqlalchemy import and_, func, or_, select

from jomreskit.domain import ManagerProperty, User

from .feed import PROPERTY_UID
from .horizon import EVENTS, after
from .models import AcknowledgedCursor

if TYPE_CHECKING:
    from jomreskit import Kit

NEVER = "never acknowledged"


def column(scope: str) -> KeyColumn:
    """The column; a key without ``scope`` cannot read the feed and shows a dash."""

    def cells(kit: Kit, keys: Sequence[ApiKey]) -> Mapping[int, str]:
        readers = [key.id for key in keys if scope in key.scopes]
        shown = dict.fromkeys(readers, NEVER)
        for api_key_id, event_id, behind in positions(kit, readers):
            shown[api_key_id] = describe(event_id, behind)
        return shown

    return KeyColumn("Event feed", cells)


def positions(kit: Kit, api_key_ids: Sequence[int]) -> list[tuple[int, int, int]]:
    """(api key id, acknowledged event id, events after it the key's manager may see) for each
    of the keys that acknowledged a position: one query for them all.

    The count includes events still behind a running transaction (the feed hands those out a
    moment later): it tells how much there is to read, not what the next page holds.
    """
    if not api_key_ids:
        return []
    session = kit.session()
    position = (AcknowledgedCursor.xid, AcknowledgedCursor.event_id)
    visible = or_(User.role == "super", PROPERTY_UID.in_(
        select(ManagerProperty.property_uid)
        .where(ManagerProperty.manager_id == ApiKey.manager_id)
        .correlate(ApiKey)
        .scalar_subquery()))
    query = (
        select(AcknowledgedCursor.api_key_id, AcknowledgedCursor.event_id,
               func.count(EVENTS.c.id))
        .join(ApiKey, ApiKey.id == AcknowledgedCursor.api_key_id)
        .join(User, User.manager_id == ApiKey.manager_id)
        .outerjoin(EVENTS, and_(after(session, position), visible))
        .where(AcknowledgedCursor.api_key_id.in_(list(api_key_ids)))
        .group_by(AcknowledgedCursor.api_key_id, AcknowledgedCursor.event_id)
    )
    return [(row[0], row[1], row[2]) for row in session.execute(query)]


def describe(event_id: int, behind: int) -> str:
    """"acknowledged event 1,234 – 56 events behind", as the page shows it."""
    if event_id == 0:
        where = "acknowledged the start of the feed"
    else:
        where = f"acknowledged event {event_id:,}"
    if behind == 0:
        return f"{where} – up to date"
    return f"{where} – {behind:,} event{'' if behind == 1 else 's'} behind"
