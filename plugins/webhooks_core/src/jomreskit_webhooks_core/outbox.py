"""The outbox: which webhooks an event goes to, and the delivery rows written for them.

Routing:

- An event about a property (it carries ``property_uid``) goes to the enabled webhooks of the
  managers linked to that property, as in Jomres.
- A manager event (``manager_added``, ``manager_updated``, ``manager_deleted``: it carries
  ``manager_id`` and no property) goes to that manager's own enabled webhooks. A deleted
  manager's webhooks are deleted with them, so ``manager_deleted`` usually reaches nobody.
- An event with neither field has no owner to route by and is not delivered.

A webhook's event filter (empty: every event) applies to all events; its property filter
(empty: every property) applies to events that carry a ``property_uid``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, select, true

from jomreskit.core.db import utcnow
from jomreskit.core.domain.models import ManagerProperty

from . import message, wakeup
from .models import PENDING, Delivery, Webhook

if TYPE_CHECKING:
    from jomreskit.core.events import Event
    from jomreskit.core.kit import Kit


WEBHOOKS = Webhook.__table__
_CANDIDATES = select(WEBHOOKS.c.id, WEBHOOKS.c.manager_id, WEBHOOKS.c.events,
                     WEBHOOKS.c.property_uids).where(WEBHOOKS.c.enabled == true())
# Built once: firing an event runs these two statements and one INSERT, nothing more.
_OF_PROPERTY = _CANDIDATES.where(WEBHOOKS.c.manager_id.in_(
    select(ManagerProperty.__table__.c.manager_id)
    .where(ManagerProperty.__table__.c.property_uid == bindparam("property_uid"))))
_OF_MANAGER = _CANDIDATES.where(WEBHOOKS.c.manager_id == bindparam("manager_id"))
DELIVERIES = Delivery.__table__
_COLUMNS = ("webhook_id", "event_id", "event_type", "msg_id", "payload", "status", "attempts",
            "next_attempt_at", "created_at")


class _Insert:
    """The outbox INSERT compiled once for a database, run as one DBAPI executemany.

    Every row of one event shares its timestamps, so they are converted for the database
    once, not once per row: firing an event stays cheap however many webhooks match.
    """

    def __init__(self, dialect: Any) -> None:
        compiled = insert(DELIVERIES).values(
            {name: bindparam(name) for name in _COLUMNS}).compile(dialect=dialect)
        self.sql = str(compiled)
        self.order = compiled.positiontup if compiled.positional else None
        self.stamp = DELIVERIES.c.created_at.type._cached_bind_processor(dialect) or (
            lambda value: value)

    def params(self, rows: list[dict[str, Any]]) -> list[Any]:
        if self.order is None:
            return rows
        return [tuple(row[name] for name in self.order) for row in rows]


_inserts: dict[str, _Insert] = {}


def queue(kit: Kit, event: Event) -> int:
    """Write one pending delivery per matching webhook into the current transaction."""
    session = kit.session()
    property_uid = event.ids.get("property_uid")
    if property_uid is not None:
        query, params = _OF_PROPERTY, {"property_uid": property_uid}
    elif "manager_id" in event.ids:
        query, params = _OF_MANAGER, {"manager_id": event.ids["manager_id"]}
    else:
        return 0
    connection = session.connection()
    matching = [
        row for row in connection.execute(query, params)
        if (not row.events or event.name in row.events)
        and (property_uid is None or not row.property_uids or property_uid in row.property_uids)
    ]
    if not matching:
        return 0
    dialect = connection.dialect
    statement = _inserts.get(dialect.name) or _inserts.setdefault(dialect.name, _Insert(dialect))
    now = statement.stamp(utcnow())
    callback_url = kit.callback_url(event)
    bodies: dict[int, str] = {}
    rows: list[dict[str, Any]] = []
    for row in matching:
        if row.manager_id not in bodies:
            bodies[row.manager_id] = message.body(event.name, event.timestamp, event.ids,
                                                  row.manager_id, callback_url)
        rows.append(_row(row.id, event.id, event.name, bodies[row.manager_id], now))
    connection.exec_driver_sql(statement.sql, statement.params(rows))
    wakeup.queued(kit, session)
    return len(rows)


def _row(webhook_id: int, event_id: int | None, event_type: str, payload: str,
         now: Any) -> dict[str, Any]:
    return {"webhook_id": webhook_id, "event_id": event_id, "event_type": event_type,
            "msg_id": message.new_msg_id(), "payload": payload, "status": PENDING,
            "attempts": 0, "next_attempt_at": now, "created_at": now}

