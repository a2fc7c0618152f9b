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

from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Integer,
    String,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from jomreskit import tracing
from jomreskit.domain import ManagerProperty

from . import message, wakeup
from .models import PENDING, Delivery, Webhook

if TYPE_CHECKING:
    from jomreskit import Event, Kit


WEBHOOKS = Webhook.__table__
DELIVERIES = Delivery.__table__
# A manager id no real manager has: the body is built once with it, then split around it, so
# the database puts each webhook's manager_id in (see ``_QUEUE``).
_SENTINEL = -7_340_052_119


class _position(FunctionElement[int]):
    """Where a text first holds another (1-based, 0 when it does not): ``instr`` on SQLite,
    ``strpos`` on PostgreSQL.

    A filter is matched with it rather than LIKE: SQLite prepares a statement again whenever a
    LIKE pattern is a bound parameter and is bound afresh, which is every time an event fires,
    and that took more time than the rest of the queueing statement.
    """

    type = Integer()
    inherit_cache = True


@compiles(_position)
def _instr(element: _position, compiler: Any, **kw: Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"


@compiles(_position, "postgresql")
def _strpos(element: _position, compiler: Any, **kw: Any) -> str:
    return f"strpos({compiler.process(element.clauses, **kw)})"


def _allowed(filter_column: Any, wanted: str) -> Any:
    """The filter is empty (everything) or lists the ``wanted`` parameter's value."""
    listed = _position(filter_column, bindparam(wanted, type_=String())) > literal_column("0")
    return or_(filter_column == literal_column("''"), listed)


def _queue_statement(owners: Any, owner: Any, property_filtered: bool) -> Any:
    """INSERT ... SELECT: one statement finds the matching webhooks (of ``owners``, a join
    of the webhooks, where ``owner``) and queues a delivery for each, so firing an event costs
    one round trip to the database however many match."""
    where = [WEBHOOKS.c.enabled == true(), owner, _allowed(WEBHOOKS.c.event_filter, "event")]
    if property_filtered:
        where.append(_allowed(WEBHOOKS.c.property_filter, "property"))
    manager = cast(WEBHOOKS.c.manager_id, String)
    text_param = partial(bindparam, type_=String())
    rows = select(
        WEBHOOKS.c.id,
        bindparam("event_id", type_=Integer()),
        text_param("event_type"),
        text_param("msg_prefix") + cast(WEBHOOKS.c.id, String),
        text_param("head") + manager + text_param("tail"),
        literal_column(f"'{PENDING}'"),
        literal_column("0"),
        bindparam("now", type_=DELIVERIES.c.created_at.type),
        bindparam("now", type_=DELIVERIES.c.created_at.type),
        text_param("traceparent"),
    ).select_from(owners).where(*where)
    return insert(DELIVERIES).from_select(
        ["webhook_id", "event_id", "event_type", "msg_id", "payload", "status", "attempts",
         "next_attempt_at", "created_at", "traceparent"], rows)


def _notifying(statement: Any) -> Any:
    """On PostgreSQL, the queueing statement also sends the workers' NOTIFY when it queued
    anything (delivered at commit), so waking them costs no round trip of its own. It answers
    one row: how many deliveries it queued. The channel is a parameter: it carries the site's
    schema (``wakeup.channel``)."""
    queued = statement.returning(DELIVERIES.c.id).cte("queued")
    count = select(func.count().label("n")).select_from(queued).subquery()
    notify = func.pg_notify(bindparam("channel", type_=String()), literal_column("''"))
    return select(count.c.n, case((count.c.n > literal_column("0"), notify)))


MANAGER_PROPERTIES = ManagerProperty.__table__
# A join rather than "manager_id IN (SELECT ...)": SQLite builds the subquery's list afresh on
# every run, a third of the statement's time.
_OF_PROPERTY = _queue_statement(
    WEBHOOKS.join(MANAGER_PROPERTIES, MANAGER_PROPERTIES.c.manager_id == WEBHOOKS.c.manager_id),
    MANAGER_PROPERTIES.c.property_uid == bindparam("property_uid"), True)
_OF_MANAGER = _queue_statement(WEBHOOKS, WEBHOOKS.c.manager_id == bindparam("manager_id"), False)
_NOTIFYING = {_OF_PROPERTY: _notifying(_OF_PROPERTY), _OF_MANAGER: _notifying(_OF_MANAGER)}


def queue(kit: Kit, event: Event) -> int:
    """Write one pending delivery per matching webhook into the current transaction."""
    session = kit.session()
    property_uid = event.ids.get("property_uid")
    if property_uid is not None:
        statement, params = _OF_PROPERTY, {"property_uid": property_uid,
                                           "property": f",{property_uid},"}
    elif "manager_id" in event.ids:
        statement, params = _OF_MANAGER, {"manager_id": event.ids["manager_id"]}
    else:
        return 0
    body = message.body(event.name, event.timestamp, event.ids, _SENTINEL,
                        kit.callback_url(event), event.origin)
    # The first occurrence is manager_id's: only ids (positive) come before it, and an origin's
    # text after it may be anything.
    head, tail = body.split(str(_SENTINEL), 1)
    params.update(
        event=f",{event.name},", event_id=event.id,
        event_type=event.name, msg_prefix=message.new_msg_id() + "_", head=head, tail=tail,
        now=event.timestamp, traceparent=tracing.current_traceparent())
    notifying = kit.engine.dialect.name == "postgresql"
    if notifying:
        statement = _NOTIFYING[statement]
        params["channel"] = wakeup.channel(kit, session)
    queued = _execute(session.connection(), statement, params, counted=notifying)
    if queued:
        wakeup.queued(kit, session, notified=notifying)
    return queued


def _execute(connection: Any, statement: Any, params: dict[str, Any], counted: bool) -> int:
    """Run a queueing statement straight through the driver; the number of rows it queued
    (its rowcount, or with ``counted`` the number it answers).

    Every fired event runs one, inside the caller's request: compiled once per database, it
    skips SQLAlchemy's per-execution work, as the worker's batch writes do (batch.py).
    """
    dialect = connection.dialect
    compiled = _compiled.get((statement, dialect.name))
    if compiled is None:
        compiled = statement.compile(dialect=dialect)
        _compiled[(statement, dialect.name)] = compiled
    to_database = _to_database.get(dialect.name)
    if to_database is None:
        # Built once per database: SQLAlchemy's public bind_processor makes a new one per call.
        processor = DELIVERIES.c.created_at.type.bind_processor(dialect)
        to_database = _to_database[dialect.name] = processor or (lambda value: value)
    params["now"] = to_database(params["now"])
    values: Any = (tuple(params[name] for name in compiled.positiontup) if compiled.positional
                   else params)
    result = connection.exec_driver_sql(compiled.string, values)
    return int(result.scalar_one()) if counted else result.rowcount


_compiled: dict[tuple[Any, str], Any] = {}
_to_database: dict[str, Any] = {}  # the timestamp's conversion for each database's driver

