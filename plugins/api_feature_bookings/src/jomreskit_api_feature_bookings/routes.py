"""The booking routes: create, read, modify and cancel a property's bookings.

A booking belongs to the property in its path: a contract of another property, or a black
booking (the availability API's business), is 404 whoever asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jomreskit_api_core import Api, ApiError, Body, Param, check_if_match, require_property
from sqlalchemy import select

from jomreskit import Conflict
from jomreskit.domain import Contract, Guest, Property, Room, services

from . import record

if TYPE_CHECKING:
    from jomreskit import Kit

# Each guest member and its longest text, as the guests table holds them.
GUEST_LENGTHS = {"firstname": 100, "surname": 100, "email": 255, "telephone": 50,
                 "street": 255, "town": 100, "postcode": 20, "country": 2}
STATUSES = ("provisional", "confirmed")  # cancelling has its own route
MAX_PEOPLE = 1000
BOOKING_MEMBERS = ("arrival", "departure", "room_uids", "adults", "children", "guest",
                   "contract_total", "deposit_required", "currency", "special_requests",
                   "status")
CREATE_MEMBERS = (*BOOKING_MEMBERS, "guest_uid", "booking_number")

GUEST_BODY = {"type": "object", "additionalProperties": False,
              "properties": {name: {"type": "string", "maxLength": length}
                             for name, length in GUEST_LENGTHS.items()}}
MEMBERS_SCHEMA: dict[str, Any] = {
    "arrival": {"type": "string", "format": "date", "description": "Today or later."},
    "departure": {"type": "string", "format": "date",
                  "description": "After arrival, at most 366 nights."},
    "room_uids": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 1},
                  "description": "Rooms of the property, free on every night."},
    "adults": {"type": "integer", "minimum": 1, "maximum": MAX_PEOPLE},
    "children": {"type": "integer", "minimum": 0, "maximum": MAX_PEOPLE},
    "guest": GUEST_BODY,
    "contract_total": {"oneOf": [{"type": "string"}, {"type": "number"}]},
    "deposit_required": {"oneOf": [{"type": "string"}, {"type": "number"}]},
    "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
    "special_requests": {"type": "string", "maxLength": 5000},
    "status": {"type": "string", "enum": list(STATUSES)},
}
CREATE_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "additionalProperties": False,
    "required": ["arrival", "departure", "room_uids"],
    "properties": {**MEMBERS_SCHEMA,
                   "guest_uid": {"type": "integer", "minimum": 1,
                                 "description": "An existing guest of the property, instead "
                                                "of `guest`."},
                   "booking_number": {"type": "string", "maxLength": 50}},
}, "example": {"arrival": "2099-01-10", "departure": "2099-01-12", "room_uids": [2],
               "adults": 2, "guest": {"firstname": "Basil", "surname": "Fawlty"},
               "contract_total": "130.00"}}}}
MODIFY_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "properties": MEMBERS_SCHEMA,
}, "example": {"adults": 1, "special_requests": "A late arrival"}}}}
ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
CONFLICT = {409: {
    "description": "A room is taken on one of the nights (`room_unavailable`), the booking "
                   "is cancelled (`booking_cancelled`, `already_cancelled`), or another "
                   "booking of the property has the `booking_number` given "
                   "(`booking_number_taken`).",
    "content": ERROR}}
CREATED = {**CONFLICT, 201: {
    "description": "Booked: the booking, its address in `Location` and its `ETag`.",
    "headers": {"Location": {"schema": {"type": "string"}},
                "ETag": {"schema": {"type": "string"}}},
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["data", "meta"],
        "properties": {"data": record.BOOKING_SCHEMA, "meta": {"type": "object"}}}}}}}
CONDITIONAL = {**CONFLICT, 412: {
    "description": "`If-Match` names an ETag the booking no longer has "
                   "(`precondition_failed`): read it again.",
    "content": ERROR}}


def register(api: Api, read_scope: str, write_scope: str) -> None:
    kit = api.kit
    property_param = Param("property_uid", in_="path", type="integer", example=1,
                           description="A property the key's manager runs.")
    contract_param = Param("contract_uid", in_="path", type="integer", example=41,
                           description="A booking of that property.")

    @api.route("/bookings/<int:property_uid>", methods=("POST",), scope=write_scope,
               tags=("bookings",), summary="Create a booking",
               description="Book rooms for a guest (`guest`, a new guest, or `guest_uid`, one "
                           "the property has) from `arrival` to the night before `departure`. "
                           "Fires `guest_saved` for a new guest and `booking_added`, as a "
                           "booking made on the site does. A room taken on any of the nights "
                           "answers 409 `room_unavailable`: two clients booking the last room "
                           "at once get one booking between them.",
               params=(property_param,), request_body=CREATE_BODY, etag=True,
               response=record.BOOKING_SCHEMA, responses=CREATED)
    def booking_create(property_uid: int) -> Any:
        require_property(property_uid)
        prop = _property(kit, property_uid)
        payload = Body.of_request(CREATE_MEMBERS)
        arrival, departure = payload.date("arrival"), payload.date("departure")
        assert arrival is not None and departure is not None
        Body.check_stay(arrival, departure)
        room_uids = payload.ids("room_uids")
        assert room_uids is not None
        fields = _fields(payload)
        fields.setdefault("currency", prop.currency)
        booking_number = payload.text("booking_number", 50)
        if booking_number:
            _check_booking_number_free(kit, property_uid, booking_number)
            fields["booking_number"] = booking_number
        _check_capacity(kit, property_uid, room_uids, fields.get("adults", 1),
                        fields.get("children", 0))
        guest_fields = _guest_fields(payload)
        guest_uid = payload.id("guest_uid", required=False)
        if (guest_fields is None) == (guest_uid is None):
            raise Body.invalid("guest", "give guest (a new guest) or guest_uid, one of them")
        if guest_uid is not None:
            found = kit.session().get(Guest, guest_uid)
            if found is None or found.property_uid != property_uid:
                raise Body.invalid("guest_uid", f"no guest {guest_uid} at property "
                                                f"{property_uid}")
        else:
            guest_uid = services.save_guest(kit, property_uid, **(guest_fields or {})).guest_uid
        contract = services.add_booking(kit, property_uid, arrival, departure, room_uids,
                                        guest_uid=guest_uid, **fields)
        where = api.path(f"/bookings/{property_uid}/{contract.contract_uid}")
        return record.booking(contract), {}, 201, {"Location": where}

    @api.route("/bookings/<int:property_uid>/<int:contract_uid>", scope=read_scope,
               tags=("bookings",), summary="A booking",
               description="The booking with its guest, rooms, dates and totals.",
               params=(property_param, contract_param), response=record.BOOKING_SCHEMA,
               etag=True)
    def booking_read(property_uid: int, contract_uid: int) -> Any:
        require_property(property_uid)
        return record.booking(_booking(kit, property_uid, contract_uid))

    @api.route("/bookings/<int:property_uid>/<int:contract_uid>", methods=("PATCH",),
               scope=write_scope, tags=("bookings",), summary="Modify a booking",
               description="Change the members given: dates, rooms, people, guest details, "
                           "totals, status (provisional or confirmed). The rooms must be free "
                           "on every night of the new dates (409 `room_unavailable`). Fires "
                           "`booking_modified` (and `guest_updated` when guest details "
                           "change), as a change on the site does.",
               params=(property_param, contract_param), request_body=MODIFY_BODY,
               response=record.BOOKING_SCHEMA, responses=CONDITIONAL, etag=True)
    def booking_modify(property_uid: int, contract_uid: int) -> Any:
        require_property(property_uid)
        contract = _booking(kit, property_uid, contract_uid, for_update=True)
        check_if_match(record.booking(contract))
        payload = Body.of_request(BOOKING_MEMBERS)
        if not payload:
            raise ApiError(422, "invalid_json", "send at least one member to change")
        if contract.status == "cancelled":
            raise Conflict(f"booking {contract_uid} is cancelled", code="booking_cancelled")
        arrival = payload.date("arrival", required=False) or contract.arrival
        departure = payload.date("departure", required=False) or contract.departure
        fields = _fields(payload)
        if {"arrival", "departure"} & set(payload):
            # An arrival already past may stay (a guest in the house staying longer).
            Body.check_stay(arrival, departure, past="arrival" not in payload)
            fields.update(arrival=arrival, departure=departure)
        room_uids = payload.ids("room_uids", required=False)
        _check_capacity(kit, property_uid, room_uids or contract.room_uids,
                        fields.get("adults", contract.adults),
                        fields.get("children", contract.children))
        guest_fields = _guest_fields(payload)
        if guest_fields:
            if contract.guest_uid is None:
                fields["guest_uid"] = services.save_guest(kit, property_uid,
                                                          **guest_fields).guest_uid
            else:
                services.save_guest(kit, property_uid, contract.guest_uid, **guest_fields)
        contract = services.modify_booking(kit, contract_uid, room_uids=room_uids, **fields)
        return record.booking(contract)

    @api.route("/bookings/<int:property_uid>/<int:contract_uid>/cancel", methods=("POST",),
               scope=write_scope, tags=("bookings",), summary="Cancel a booking",
               description="Cancel the booking and free its rooms' nights; fires "
                           "`booking_cancelled`. A booking already cancelled answers 409 "
                           "`already_cancelled`.",
               params=(property_param, contract_param), response=record.BOOKING_SCHEMA,
               responses=CONDITIONAL, etag=True)
    def booking_cancel(property_uid: int, contract_uid: int) -> Any:
        require_property(property_uid)
        check_if_match(record.booking(_booking(kit, property_uid, contract_uid,
                                               for_update=True)))
        return record.booking(services.cancel_booking(kit, contract_uid))


def _property(kit: Kit, property_uid: int) -> Property:
    prop = kit.session().get(Property, property_uid)
    if prop is None:
        raise ApiError(404, "invalid_property_uid", f"no property {property_uid}")
    return prop


def _check_booking_number_free(kit: Kit, property_uid: int, booking_number: str) -> None:
    """409 ``booking_number_taken`` when a booking of the property has that number already.

    The property's row is locked first (``services.lock_property``), so two bookings given the
    same new number at the same moment are checked one after the other: the second sees the
    first's booking and is refused.
    """
    services.lock_property(kit, property_uid)
    taken = kit.session().scalar(select(Contract.contract_uid).where(
        Contract.property_uid == property_uid, Contract.booking_number == booking_number,
    ).limit(1))
    if taken is not None:
        raise Conflict(f"booking {taken} of property {property_uid} has booking number "
                       f"{booking_number!r} already", code="booking_number_taken",
                       field="booking_number")


def _booking(kit: Kit, property_uid: int, contract_uid: int,
             for_update: bool = False) -> Contract:
    """The property's booking, or 404 (a black booking is not a booking here).

    ``for_update``: locked until the write commits (PostgreSQL), so a concurrent modify waits
    and then sees this one's change: an If-Match checked now still holds when it writes.
    """
    contract = kit.session().get(Contract, contract_uid, with_for_update=for_update)
    if contract is None or contract.property_uid != property_uid or contract.blackbooking:
        raise ApiError(404, "invalid_contract_uid",
                       f"no booking {contract_uid} at property {property_uid}")
    return contract


def _fields(payload: dict[str, Any]) -> dict[str, Any]:
    """The contract's own members the body gives, checked and typed."""
    fields: dict[str, Any] = {}
    for member, low in (("adults", 1), ("children", 0)):
        value = payload.get(member)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_PEOPLE:
            raise Body.invalid(member, f"must be a whole number from {low} to {MAX_PEOPLE}")
        fields[member] = value
    for member in ("contract_total", "deposit_required"):
        amount = payload.money(member, required=False)
        if amount is not None:
            fields[member] = amount
    currency = payload.text("currency", 3)
    if currency is not None:
        if len(currency) != 3 or not currency.isascii() or not currency.isupper():
            raise Body.invalid("currency", "must be a three-letter code such as EUR")
        fields["currency"] = currency
    requests = payload.text("special_requests", 5000)
    if requests is not None:
        fields["special_requests"] = requests
    status = payload.get("status")
    if status is not None:
        if status not in STATUSES:
            raise Body.invalid("status", f"must be one of {', '.join(STATUSES)} "
                                         "(cancel through .../cancel)")
        fields["status"] = status
    return fields


def _guest_fields(payload: dict[str, Any]) -> dict[str, str] | None:
    given = payload.get("guest")
    if given is None:
        return None
    if not isinstance(given, dict):
        raise Body.invalid("guest", "must be an object of guest details")
    fields: dict[str, str] = {}
    for member, value in given.items():
        name = f"guest.{str(member)[:40]}"
        if member not in GUEST_LENGTHS:
            raise Body.invalid(name, f"unknown member; known: {', '.join(GUEST_LENGTHS)}")
        if not isinstance(value, str) or "\x00" in value or len(value) > GUEST_LENGTHS[member]:
            raise Body.invalid(name, f"must be a text of at most {GUEST_LENGTHS[member]} "
                                     "characters")
        fields[member] = value
    return fields


def _check_capacity(kit: Kit, property_uid: int, room_uids: list[int], adults: int,
                    children: int) -> None:
    """422 naming room_uids for a room not at the property, adults for too many people."""
    rooms = {uid: people for uid, people in kit.session().execute(
        select(Room.room_uid, Room.max_people).where(Room.property_uid == property_uid,
                                                     Room.room_uid.in_(room_uids)))}
    missing = [uid for uid in room_uids if uid not in rooms]
    if missing:
        raise Body.invalid("room_uids", f"no room {missing[0]} at property {property_uid}")
    room_space = sum(rooms.values())
    if adults + children > room_space:
        raise Body.invalid("adults", f"{adults + children} people do not fit in rooms that "
                                     f"take {room_space}")

