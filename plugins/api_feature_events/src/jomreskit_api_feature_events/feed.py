"""Reading the feed a page at a time, acknowledging a position, and pruning old events."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from jomreskit import Event, EventType
from jomreskit.db import utcnow
from jomreskit.domain import ManagerProperty

from .cursor import START, Position
from .horizon import EVENTS, after, edge, now, order, settled
from .models import AcknowledgedCursor, PrunedUpTo

if TYPE_CHECKING:
    from jomreskit import Kit

PROPERTY_UID = EVENTS.c.ids["property_uid"].as_integer()
MANAGER_ID = EVENTS.c.ids["manager_id"].as_integer()


@dataclass(frozen=True)
class Reader:
    """Whose feed it is: every event (a super manager), or those of the properties
    ``manager_id`` runs and the notices to that manager (see ``notices_to``)."""

    manager_id: int
    is_super: bool


@dataclass
class Page:
    """Events after a position, oldest first, and the position to read on from."""

    events: list[tuple[Position, Event]]
    next: Position
    more_coming: bool  # events exist past the horizon: reading again soon will find more
    held_back: Position | None = None  # the first of those: settled once the horizon passes it


class UnknownCursor(Exception):
    """The cursor names no event this feed handed out."""


class CursorExpired(Exception):
    """The position is older than the oldest event kept: events after it were pruned."""

    def __init__(self, oldest: Position) -> None:
        super().__init__("cursor older than the retention")
        self.oldest = oldest


def pruned_up_to(session: Session) -> Position:
    """The last position pruning deleted (START when nothing was pruned)."""
    mark = session.get(PrunedUpTo, 1)
    return START if mark is None else Position(mark.xid, mark.event_id)


def check_kept(session: Session, after: Position) -> None:
    """Raise CursorExpired when events after ``after`` were pruned: ``after`` is before the
    oldest event kept (START too, once anything was pruned)."""
    oldest = pruned_up_to(session)
    if oldest != START and after < oldest:
        raise CursorExpired(oldest)


def resolve(session: Session, event_id: int) -> Position:
    """The position of the event a cursor names (``cursor.decode``), its xid looked up.

    Raises CursorExpired when the event was pruned (unless it is the last one pruning deleted,
    where reading on loses nothing), UnknownCursor when no such event was ever handed out.
    """
    if event_id == 0:
        return START
    xid = session.scalar(select(EVENTS.c.feed_xid).where(EVENTS.c.id == event_id))
    if xid is not None:
        return Position(xid, event_id)
    oldest = pruned_up_to(session)
    if oldest.event_id == event_id:
        return oldest
    newest = session.scalar(select(func.max(EVENTS.c.id)))
    if oldest == START or newest is None or event_id > newest:
        raise UnknownCursor(event_id)
    raise CursorExpired(oldest)


def start_of_kept(session: Session) -> Position:
    """Where a reader with no cursor starts: just before the oldest event kept."""
    return pruned_up_to(session)


def read(kit: Kit, reader: Reader, start: Position, limit: int,
         types: Collection[str] = (), property_uid: int | None = None) -> Page:
    """Up to ``limit`` settled events after ``start`` that ``reader`` may see.

    A page shorter than ``limit`` has handed out every settled event after ``start`` the
    reader may see, so its ``next`` is the feed's horizon: the next read starts there, past
    the other managers' events recorded meanwhile, without looking at them. (The horizon moves
    with everyone's events; the cursor sealing it tells the key nothing of that.) ``more_coming``
    and ``held_back`` depend only on events the reader may see.
    """
    session = kit.session()
    check_kept(session, start)
    horizon = now(session)
    reached = max(start, edge(session, horizon))
    visible = _visible_to(kit, session, reader)
    if visible is None:  # nothing this reader may see: nothing to read, nothing to scan
        return Page([], reached, more_coming=False)
    final = settled(session, horizon)
    query = select(EVENTS).where(final, after(session, start), *visible)
    if types:
        query = query.where(EVENTS.c.name.in_(list(types)))
    if property_uid is not None:
        query = query.where(PROPERTY_UID == property_uid)
    rows = session.execute(query.order_by(*order(session)).limit(limit)).all()
    events = [(Position(row.feed_xid, row.id), _event(kit, row)) for row in rows]
    if len(events) == limit:
        return Page(events, events[-1][0], more_coming=True)
    # Fewer than asked: every settled event after ``start`` the reader may see was looked at
    # (the filters, types and property, pass those they leave out for good). What is not
    # settled yet lies after the horizon.
    unsettled = session.execute(select(EVENTS.c.feed_xid, EVENTS.c.id)
                                .where(~final, after(session, reached), *visible)
                                .order_by(*order(session)).limit(1)).first()
    held_back = None if unsettled is None else Position(*unsettled)
    return Page(events, reached, more_coming=held_back is not None, held_back=held_back)


def shows(kit: Kit, session: Session, reader: Reader, position: Position) -> bool:
    """Whether ``position`` is that of an event ``reader`` may see."""
    visible = _visible_to(kit, session, reader)
    if visible is None or position == START:
        return False
    return session.scalar(select(EVENTS.c.id).where(
        EVENTS.c.id == position.event_id, EVENTS.c.feed_xid == position.xid, *visible)) is not None


def notices_to(kit: Kit, manager_id: Any, name: Any = EVENTS.c.name,
               names_manager: Any = MANAGER_ID) -> ColumnElement[bool] | None:
    """The condition of the events that are notices to the manager ``manager_id`` (a value
    or a column): of a type declared ``for_manager``, naming that manager. None when no type
    is. ``name`` and ``names_manager`` are the event's name and ``manager_id`` (the events
    table's columns, or a subquery's)."""
    types = [event_type.name for event_type in kit.catalog if event_type.for_manager]
    if not types:
        return None
    return and_(name.in_(types), names_manager == manager_id)


def _visible_to(kit: Kit, session: Session, reader: Reader
                ) -> list[ColumnElement[bool]] | None:
    """The conditions of the events ``reader`` may see; None when it may see none.

    A manager sees the events of the properties they run and the notices to them (a
    webhook of theirs whose circuit opened); an event with no property and no such
    declaration (``manager_added``) only super managers see.
    """
    if reader.is_super:
        return []
    notices = notices_to(kit, reader.manager_id)
    runs = select(ManagerProperty.property_uid).where(
        ManagerProperty.manager_id == reader.manager_id)
    if session.scalar(runs.limit(1)) is None:  # runs no property: its notices at most
        return None if notices is None else [notices]
    theirs = PROPERTY_UID.in_(runs.scalar_subquery())
    return [theirs if notices is None else or_(theirs, notices)]


def _event(kit: Kit, row: Any) -> Event:
    ids = dict(row.ids)
    event_type = (kit.catalog.get(row.name) if row.name in kit.catalog
                  else EventType(row.name, tuple(ids)))  # its plugin is gone: ids as recorded
    return Event(id=row.id, name=row.name, ids=ids, timestamp=row.created_at, type=event_type,
                 origin=row.origin)


def as_json(kit: Kit, position: Position, event: Event, cursor: str) -> dict[str, Any]:
    """An event as the feed hands it out: the fields of a notification, and its cursor; for a
    change written through the API, its ``origin`` as a notification's data carries it."""
    item: dict[str, Any] = {
        "id": event.id,
        "type": event.name,
        "ids": dict(event.ids),
        "timestamp": _timestamp(event.timestamp),
        "callback_url": kit.callback_url(event),
        "cursor": cursor,
    }
    if event.origin is not None:
        item["origin"] = {"client_id": event.origin}
    return item


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- acknowledged positions ----------------------------------------------------------------


def acknowledged(session: Session, api_key_id: int) -> AcknowledgedCursor | None:
    """What ``api_key_id`` acknowledged last, if anything."""
    return session.get(AcknowledgedCursor, api_key_id)


def acknowledge(session: Session, api_key_id: int, position: Position) -> AcknowledgedCursor:
    """Move the key's acknowledged position on to ``position`` (refused if already pruned
    past); one before it leaves it where it is, so it is never behind what was acknowledged.

    The key's row is made if it has none (an insert that yields to one made meanwhile) and
    locked, so acknowledgements of one key at the same moment take turns.
    """
    check_kept(session, position)
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(AcknowledgedCursor).values(
        api_key_id=api_key_id, xid=position.xid, event_id=position.event_id,
        acknowledged_at=utcnow()).on_conflict_do_nothing(index_elements=["api_key_id"]))
    record = session.get(AcknowledgedCursor, api_key_id, populate_existing=True,
                         with_for_update=True)
    assert record is not None  # made above, and a key's row goes only with the key
    if Position(record.xid, record.event_id) < position:
        record.xid, record.event_id = position
    record.acknowledged_at = utcnow()
    return record


# -- retention ----------------------------------------------------------------------------


def prune(kit: Kit, older_than: datetime) -> int:
    """Delete the events recorded before ``older_than``; returns how many went.

    Deletes a prefix of the feed, up to the last settled event recorded before the cutoff, and
    marks where it ended so that a cursor from before answers 410 instead of skipping. The
    newest event always stays: SQLite would hand its id out again.
    """
    with kit.transaction() as session:
        final = settled(session)
        newest_id = session.scalar(select(EVENTS.c.id).order_by(EVENTS.c.id.desc()).limit(1))
        last = session.execute(
            select(EVENTS.c.feed_xid, EVENTS.c.id)
            .where(final, EVENTS.c.created_at < older_than, EVENTS.c.id != newest_id)
            .order_by(*order(session, descending=True)).limit(1)).first()
        if last is None:
            return 0
        up_to = Position(*last)
        deleted = session.execute(delete(EVENTS).where(~after(session, up_to),
                                                      EVENTS.c.id != newest_id)).rowcount
        mark = session.get(PrunedUpTo, 1) or PrunedUpTo(id=1)
        session.add(mark)
        mark.xid, mark.event_id, mark.pruned_at = up_to.xid, up_to.event_id, utcnow()
        return deleted
