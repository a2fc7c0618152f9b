"""The "Event feed" column of the console's App Key Management page: how far each key has
acknowledged and how many events it has still to read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jomreskit_api_core import ApiKey, KeyColumn
from sqlalchemy import func, or_, select

from jomreskit.domain import ManagerProperty, User

from .feed import MANAGER_ID, PROPERTY_UID, notices_to
from .horizon import EVENTS, after, order
from .models import AcknowledgedCursor

if TYPE_CHECKING:
    from jomreskit import Kit

NEVER = "never acknowledged"
SCAN = 1_000  # events after a key's position that its count looks at, at most


def column(scope: str) -> KeyColumn:
    """The column; a key without ``scope`` cannot read the feed and shows a dash."""

    def cells(kit: Kit, keys: Sequence[ApiKey]) -> Mapping[int, str]:
        readers = [key.id for key in keys if scope in key.scopes]
        shown = dict.fromkeys(readers, NEVER)
        for api_key_id, event_id, behind, more, its_own in positions(kit, readers):
            shown[api_key_id] = describe(event_id if its_own else None, behind, more)
        return shown

    return KeyColumn("Event feed", cells)


def positions(kit: Kit, api_key_ids: Sequence[int]) -> list[tuple[int, int, int, bool, bool]]:
    """(api key id, acknowledged event id, events after it the key's manager may see, whether
    there are more, whether the position is that of an event the key's manager may see) for
    each of the keys that acknowledged a position: one query for them all. A position is not
    an event's when the key acknowledged a ``next`` at the feed's horizon (on PostgreSQL its
    event id is 0; on SQLite, another manager's event or none).

    Each key's count looks at no more than SCAN events after its position (in the feed's order,
    through its index), so a key a million events behind costs what one a thousand behind
    does; past that the page says "at least". The count includes events still behind a running
    transaction (the feed hands those out a moment later): it tells how much there is to read,
    not what the next page holds.
    """
    if not api_key_ids:
        return []
    session = kit.session()
    position = (AcknowledgedCursor.xid, AcknowledgedCursor.event_id)

    def next_events(*columns: Any, limit: int) -> Any:
        """The first ``limit`` events after each key's position (correlated to its row)."""
        return (select(*columns).where(after(session, position))
                .order_by(*order(session)).limit(limit)
                .correlate(AcknowledgedCursor).subquery())

    scan = next_events(PROPERTY_UID.label("property_uid"), EVENTS.c.name,
                       MANAGER_ID.label("manager_id"), limit=SCAN)
    managed = (select(ManagerProperty.property_uid)
               .where(ManagerProperty.manager_id == ApiKey.manager_id)
               .correlate(ApiKey).scalar_subquery())

    def sees(property_uid: Any, name: Any, manager_id: Any) -> Any:
        """What the key's manager sees of the feed (feed.py's rule, for every key at once)."""
        shown = [User.role == "super", property_uid.in_(managed)]
        notices = notices_to(kit, ApiKey.manager_id, name, manager_id)
        return or_(*shown, *([] if notices is None else [notices]))

    behind = (select(func.count()).select_from(scan)
              .where(sees(scan.c.property_uid, scan.c.name, scan.c.manager_id))
              .correlate(ApiKey, User).scalar_subquery())
    beyond = next_events(EVENTS.c.id, limit=SCAN + 1)  # the ids only: read from the index
    more = select(func.count()).select_from(beyond).scalar_subquery() > SCAN
    its_own = (select(EVENTS.c.id)
               .where(EVENTS.c.id == AcknowledgedCursor.event_id,
                      EVENTS.c.feed_xid == AcknowledgedCursor.xid,
                      sees(PROPERTY_UID, EVENTS.c.name, MANAGER_ID))
               .correlate(AcknowledgedCursor, ApiKey, User).exists()
               | ((AcknowledgedCursor.xid == 0) & (AcknowledgedCursor.event_id == 0)))  # start
    query = (
        select(AcknowledgedCursor.api_key_id, AcknowledgedCursor.event_id, behind, more,
               its_own)
        .join(ApiKey, ApiKey.id == AcknowledgedCursor.api_key_id)
        .join(User, User.manager_id == ApiKey.manager_id)
        .where(AcknowledgedCursor.api_key_id.in_(list(api_key_ids)))
    )
    return [(row[0], row[1], row[2], bool(row[3]), bool(row[4]))
            for row in session.execute(query)]


def describe(event_id: int | None, behind: int, more: bool = False) -> str:
    """"acknowledged event 1,234 – 56 events behind", as the page shows it; ``event_id`` None:
    a position that is none of the manager's events (a ``next`` at the feed's horizon)."""
    if event_id is None:
        where = "acknowledged all it had read"
    elif event_id == 0:
        where = "acknowledged the start of the feed"
    else:
        where = f"acknowledged event {event_id:,}"
    if behind == 0 and not more:
        return f"{where} – up to date"
    return (f"{where} – {'at least ' if more else ''}{behind:,} "
            f"event{'' if behind == 1 else 's'} behind")
