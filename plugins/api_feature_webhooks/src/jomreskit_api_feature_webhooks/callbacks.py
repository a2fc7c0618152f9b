"""Reading the record an event is about: the readers of the core's events, and how one is found.

A reader is ``reader(kit, property_uid, id) -> dict | None`` (see ``register_event_callbacks``
in docs/plugin_hooks.md). ``id`` is the value of the event's *callback id field*: its last id
field other than ``property_uid`` (``contract_uid`` for a booking, ``note_id`` for a note,
``manager_id`` for a manager), or ``None`` for an event that carries only ``property_uid``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from jomreskit_api_core import JSONText, request_connection
from sqlalchemy import select

from jomreskit import EventType, NotFound
from jomreskit.db import timestamp_text
from jomreskit.domain import EventRecord, User

from . import records, statements

if TYPE_CHECKING:
    from jomreskit import Kit

# A JSON-ready dict, or the record's JSON text as the database wrote it (the core's readers).
Record = dict[str, Any] | JSONText
Reader = Callable[["Kit", int, "int | None"], "Record | None"]

# Jomres' older event names, still used by remote services written for Jomres.
ALIASES = {
    "invoice_saved": "invoice_updated",
    "property_added": "property_created",
    "property_saved": "property_updated",
    "booking_note_save": "booking_note_saved",
    "blackbooking_added": "blackbooking_created",
}

GUEST_FIELDS_SETTING = "JOMRESKIT_WEBHOOKS_GUEST_FIELDS"


def callback_id_field(event_type: EventType) -> str | None:
    """The id field whose value is the ``<id>`` of the event's callback URL."""
    fields = [f for f in event_type.id_fields if f != "property_uid"]
    return fields[-1] if fields else None


def guest_fields(settings: Mapping[str, Any]) -> tuple[str, ...]:
    """The guest fields callbacks may carry: JOMRESKIT_WEBHOOKS_GUEST_FIELDS, default all.

    A comma list (or a list) of names from ``records.GUEST_FIELDS``; empty means guest_uid only.
    Unknown names are left out (``unknown_guest_fields`` names them for a start-up warning).
    """
    value = settings.get(GUEST_FIELDS_SETTING)
    if value is None:
        return records.GUEST_FIELDS
    names = _names(value)
    return tuple(name for name in names if name in records.GUEST_FIELDS)


def unknown_guest_fields(settings: Mapping[str, Any]) -> list[str]:
    value = settings.get(GUEST_FIELDS_SETTING)
    return [] if value is None else [n for n in _names(value) if n not in records.GUEST_FIELDS]


def _names(value: Any) -> list[str]:
    parts = value if isinstance(value, list | tuple) else str(value).split(",")
    return [str(part).strip() for part in parts if str(part).strip()]


# -- finding the reader ------------------------------------------------------------------


def resolve_event(kit: Kit, name: str) -> EventType:
    """The catalog's event type for ``name`` or its Jomres alias; NotFound otherwise."""
    name = name if name in kit.catalog else ALIASES.get(name, name)
    if name not in kit.catalog:
        raise NotFound(f"unknown event {name[:100]!r} (openapi.json lists the events)",
                       code="unknown_event")
    return kit.catalog.get(name)


def read(kit: Kit, readers: Mapping[str, Reader], event_type: EventType, property_uid: int,
         id: int | None) -> Record:
    """The record of ``event_type``'s callback, read by its reader in ``readers`` (every
    plugin's, from ``register_event_callbacks``), or NotFound as the API answers it."""
    reader = readers.get(event_type.name)
    if reader is None:
        raise NotFound(f"event {event_type.name!r} has no callback", code="no_callback")
    field = callback_id_field(event_type)
    if field is None:
        if id not in (None, 0, property_uid):
            raise NotFound(f"{event_type.name} is about property {property_uid} and takes no id",
                           code="invalid_id")
        id = None
    elif id is None:
        raise NotFound(f"{event_type.name} needs the {field} after the event name",
                       code=f"invalid_{field}")
    record = reader(kit, property_uid, id)
    if record is None:
        if field is None:
            raise NotFound(f"no property {property_uid}", code="invalid_property_uid")
        where = f" at property {property_uid}" if "property_uid" in event_type.id_fields else ""
        raise NotFound(f"no {field.removesuffix('_uid').removesuffix('_id')} {id}{where}",
                       code=f"invalid_{field}")
    return record


# -- the core's readers --------------------------------------------------------------------


def _read(kit: Kit, reader: str, property_uid: int, id: int | None) -> JSONText | None:
    """The record ``statements`` reads for ``reader`` as JSON text, or None when there is
    none."""
    statement = statements.prepared(kit.engine.dialect, guest_fields(kit.settings))[reader]
    # On the request's connection, where the token check read: the record comes back as JSON
    # text, which the answer carries as it is (no ORM objects, no decoding).
    return statement.text(request_connection(), id=id, property_uid=property_uid)


def read_contract(kit: Kit, property_uid: int, contract_uid: int | None) -> Record | None:
    return _read(kit, "contract", property_uid, contract_uid)


def read_note(kit: Kit, property_uid: int, note_id: int | None) -> Record | None:
    return _read(kit, "note", property_uid, note_id)


def read_deposit(kit: Kit, property_uid: int, deposit_id: int | None) -> Record | None:
    return _read(kit, "deposit", property_uid, deposit_id)


def read_guest(kit: Kit, property_uid: int, guest_uid: int | None) -> Record | None:
    return _read(kit, "guest", property_uid, guest_uid)


def read_invoice(kit: Kit, property_uid: int, invoice_uid: int | None) -> Record | None:
    invoice = _read(kit, "invoice", property_uid, invoice_uid)
    # Line totals round half to even, as Python's decimals do and SQL's rounding does not.
    return None if invoice is None else records.add_invoice_totals(json.loads(invoice))


def read_property(kit: Kit, property_uid: int, _id: int | None = None) -> Record | None:
    return _read(kit, "property", property_uid, None)


def read_tariffs(kit: Kit, property_uid: int, _id: int | None = None) -> Record | None:
    return _read(kit, "tariffs", property_uid, None)


def read_room(kit: Kit, property_uid: int, room_uid: int | None) -> Record | None:
    return _read(kit, "room", property_uid, room_uid)


def read_review(kit: Kit, property_uid: int, review_uid: int | None) -> Record | None:
    return _read(kit, "review", property_uid, review_uid)


def read_extra(kit: Kit, property_uid: int, extra_uid: int | None) -> Record | None:
    return _read(kit, "extra", property_uid, extra_uid)


def read_coupon(kit: Kit, property_uid: int, coupon_uid: int | None) -> Record | None:
    return _read(kit, "coupon", property_uid, coupon_uid)


def read_manager(kit: Kit, _property_uid: int, manager_id: int | None) -> Record | None:
    user = kit.session().get(User, manager_id) if manager_id else None
    return None if user is None else user.record()


def tombstone(kit: Kit, event: str, property_uid: int, id: int | None) -> Record | None:
    """What a deletion event's callback answers once the record is gone: its ids, ``deleted``
    and when, from the recorded event. None (a 404) when no such deletion was recorded, so a
    caller learns nothing about ids of other properties."""
    event_type = kit.catalog.get(event)
    query = select(EventRecord).where(EventRecord.name == event)
    field = callback_id_field(event_type)
    if field is not None:
        query = query.where(EventRecord.ids[field].as_integer() == id)
    if "property_uid" in event_type.id_fields:
        query = query.where(EventRecord.ids["property_uid"].as_integer() == property_uid)
    recorded = kit.session().scalars(query.order_by(EventRecord.id.desc()).limit(1)).first()
    if recorded is None:
        return None
    return {**recorded.ids, "deleted": True, "deleted_at": timestamp_text(recorded.created_at)}


def tombstone_reader(event: str) -> Reader:
    """A reader answering ``event``'s deletion with its tombstone."""

    def read_tombstone(kit: Kit, property_uid: int, id: int | None) -> Record | None:
        return tombstone(kit, event, property_uid, id)

    read_tombstone.__name__ = f"read_{event}"
    return read_tombstone


def _each(names: Iterable[str], reader: Reader) -> dict[str, Reader]:
    return {name: reader for name in names}


BOOKING_EVENTS = (
    "booking_added", "booking_modified", "booking_cancelled", "booking_marked_noshow",
    "guest_checkedin", "guest_checkedin_undone", "guest_checkedout", "guest_checkedout_undone",
    "blackbooking_created",
)

DELETION_EVENTS = (
    "booking_note_deleted", "guest_deleted", "property_deleted", "room_deleted",
    "review_deleted", "extra_deleted", "coupon_deleted", "manager_deleted",
)

CORE_READERS: dict[str, Reader] = {
    **_each(BOOKING_EVENTS, read_contract),
    "deposit_saved": read_deposit,
    "booking_note_saved": read_note,
    **_each(("guest_saved", "guest_updated"), read_guest),
    **_each(("invoice_created", "invoice_updated", "invoice_cancelled"), read_invoice),
    **_each(("property_created", "property_updated", "property_published",
             "property_unpublished"), read_property),
    "tariffs_updated": read_tariffs,
    **_each(("room_added", "room_updated"), read_room),
    **_each(("review_saved", "review_published", "review_unpublished"), read_review),
    "extra_saved": read_extra,
    "coupon_saved": read_coupon,
    **_each(("manager_added", "manager_updated"), read_manager),
    **{name: tombstone_reader(name) for name in DELETION_EVENTS},
}
