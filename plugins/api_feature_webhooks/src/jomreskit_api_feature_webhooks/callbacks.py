"""Reading the record an event is about: the readers of the core's events, and how one is found.

A reader is ``reader(kit, property_uid, id) -> dict | None`` (see ``register_event_callbacks``
in docs/plugin_hooks.md). ``id`` is the value of the event's *callback id field*: its last id
field other than ``property_uid`` (``contract_uid`` for a booking, ``note_id`` for a note,
``manager_id`` for a manager), or ``None`` for an event that carries only ``property_uid``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select

from jomreskit import EventType, NotFound
from jomreskit.domain import (
    Contract,
    ContractNote,
    Coupon,
    Deposit,
    EventRecord,
    Extra,
    Guest,
    Invoice,
    Property,
    Review,
    Room,
    Tariff,
    User,
)

from . import records

if TYPE_CHECKING:
    from jomreskit import Kit

Record = dict[str, Any]
Reader = Callable[["Kit", int, "int | None"], "Record | None"]
M = TypeVar("M")

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


def read(kit: Kit, event_type: EventType, property_uid: int, id: int | None) -> Record:
    """The record of ``event_type``'s callback, or NotFound as the API answers it."""
    reader = kit.hooks.register_event_callbacks().get(event_type.name)
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


def _of_property(kit: Kit, model: type[M], uid: int | None, property_uid: int) -> M | None:
    row = kit.session().get(model, uid) if uid else None
    return row if row is not None and row.property_uid == property_uid else None  # type: ignore[attr-defined]


def read_contract(kit: Kit, property_uid: int, contract_uid: int | None) -> Record | None:
    contract = _of_property(kit, Contract, contract_uid, property_uid)
    if contract is None:
        return None
    return records.contract_record(contract, guest_fields(kit.settings))


def _with_contract(kit: Kit, property_uid: int, row: Any,
                   to_record: Callable[[Any], Record]) -> Record | None:
    """A note or deposit of a booking at ``property_uid``, with that booking."""
    if row is None or row.contract.property_uid != property_uid:
        return None
    contract = records.contract_record(row.contract, guest_fields(kit.settings))
    return {**to_record(row), "property_uid": property_uid, "contract": contract}


def read_note(kit: Kit, property_uid: int, note_id: int | None) -> Record | None:
    note = kit.session().get(ContractNote, note_id) if note_id else None
    return _with_contract(kit, property_uid, note, records.note_record)


def read_deposit(kit: Kit, property_uid: int, deposit_id: int | None) -> Record | None:
    deposit = kit.session().get(Deposit, deposit_id) if deposit_id else None
    return _with_contract(kit, property_uid, deposit, records.deposit_record)


def read_guest(kit: Kit, property_uid: int, guest_uid: int | None) -> Record | None:
    guest = _of_property(kit, Guest, guest_uid, property_uid)
    return None if guest is None else records.guest_record(guest, guest_fields(kit.settings))


def read_invoice(kit: Kit, property_uid: int, invoice_uid: int | None) -> Record | None:
    invoice = _of_property(kit, Invoice, invoice_uid, property_uid)
    return None if invoice is None else records.invoice_record(invoice)


def read_property(kit: Kit, property_uid: int, _id: int | None = None) -> Record | None:
    prop = kit.session().get(Property, property_uid)
    return None if prop is None else records.property_record(prop)


def read_tariffs(kit: Kit, property_uid: int, _id: int | None = None) -> Record | None:
    if kit.session().get(Property, property_uid) is None:
        return None
    tariffs = kit.session().scalars(
        select(Tariff).where(Tariff.property_uid == property_uid)
        .order_by(Tariff.valid_from, Tariff.tariff_uid)
    )
    return records.tariffs_record(property_uid, tariffs)


def read_room(kit: Kit, property_uid: int, room_uid: int | None) -> Record | None:
    room = _of_property(kit, Room, room_uid, property_uid)
    return None if room is None else records.room_record(room)


def read_review(kit: Kit, property_uid: int, review_uid: int | None) -> Record | None:
    review = _of_property(kit, Review, review_uid, property_uid)
    return None if review is None else records.review_record(review)


def read_extra(kit: Kit, property_uid: int, extra_uid: int | None) -> Record | None:
    extra = _of_property(kit, Extra, extra_uid, property_uid)
    return None if extra is None else records.extra_record(extra)


def read_coupon(kit: Kit, property_uid: int, coupon_uid: int | None) -> Record | None:
    coupon = _of_property(kit, Coupon, coupon_uid, property_uid)
    return None if coupon is None else records.coupon_record(coupon)


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
    return {**recorded.ids, "deleted": True, "deleted_at": recorded.created_at.isoformat()}


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
