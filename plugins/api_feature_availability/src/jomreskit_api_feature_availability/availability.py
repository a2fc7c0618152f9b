"""``GET /availability/<property_uid>`` (the calendar), ``POST .../close`` and ``POST .../open``.

A closed night is a night of a black booking: a contract marked ``blackbooking`` that takes a
room out of sale, as Jomres has them. Closing fires ``blackbooking_created`` for each black
booking made; opening fires ``booking_modified`` or ``booking_cancelled`` for the black bookings
that give nights back (and ``blackbooking_created`` when opening the middle of one splits it).

Closes and opens of a property are made under its row lock (``services.close_nights``,
``open_nights``), so racing ones take turns and answer as they would one at a time. Their
``If-Match`` names the ETag of the calendar of the body's nights, as
``GET /availability/<property_uid>?arrival=&departure=`` answers it; they answer the ETag of
that calendar as they leave it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from flask import request
from jomreskit_api_core import (
    Api,
    ApiError,
    Body,
    Param,
    check_if_match,
    current_params,
    etag_of,
    require_property,
)
from sqlalchemy import select

from jomreskit.domain import Contract, Property, Room, RoomBooking, services

from . import restrictions

if TYPE_CHECKING:
    from jomreskit import Kit

STATUSES = ("free", "booked", "closed")

NIGHT = {
    "type": "object", "required": ["date", "status"],
    "properties": {
        "date": {"type": "string", "format": "date"},
        "status": {"type": "string", "enum": list(STATUSES),
                   "description": "free; booked (sold to a guest); closed (a black booking)."},
        "contract_uid": {"type": "integer",
                         "description": "The booking or black booking holding the night."},
        "restrictions": {"type": "object", "properties": restrictions.VALUES_SCHEMA,
                         "description": "The room type's stay restrictions of the night, "
                                        "when it has some."},
    },
}
CALENDAR = {
    "type": "object", "required": ["property_uid", "arrival", "departure", "rooms"],
    "properties": {
        "property_uid": {"type": "integer"},
        "arrival": {"type": "string", "format": "date"},
        "departure": {"type": "string", "format": "date"},
        "rooms": {"type": "array", "items": {
            "type": "object", "required": ["room_uid", "nights"],
            "properties": {
                "room_uid": {"type": "integer"}, "room_number": {"type": "string"},
                "name": {"type": "string"}, "room_type": {"type": "string"},
                "max_people": {"type": "integer"},
                "nights": {"type": "array", "items": NIGHT},
            },
        }},
    },
}
BLACKBOOKING = {
    "type": "object", "required": ["contract_uid", "arrival", "departure", "room_uids", "status"],
    "properties": {
        "contract_uid": {"type": "integer"},
        "arrival": {"type": "string", "format": "date"},
        "departure": {"type": "string", "format": "date"},
        "room_uids": {"type": "array", "items": {"type": "integer"}},
        "status": {"type": "string", "description": "cancelled once every night is open"},
    },
}
NIGHTS_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["room_uids", "arrival", "departure"],
        "additionalProperties": False,
        "properties": {
            "room_uids": {"type": "array", "minItems": 1, "maxItems": 1000,
                          "items": {"type": "integer", "minimum": 1},
                          "description": "Rooms of the property."},
            "arrival": {"type": "string", "format": "date",
                        "description": "The first night, today or later."},
            "departure": {"type": "string", "format": "date",
                          "description": "The day after the last night (at most 366 nights)."},
        },
    }, "example": {"room_uids": [1], "arrival": "2099-01-10", "departure": "2099-01-12"}}},
}
ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
CALENDAR_ETAG = {"ETag": {"schema": {"type": "string"},
                          "description": "The ETag of the calendar of the body's nights, as "
                                         "`GET /availability/<property_uid>` answers it now."}}
PRECONDITION = {412: {"description": "`If-Match` names an ETag the calendar of those nights no "
                                     "longer has (`precondition_failed`): read it again.",
                      "content": ERROR}}
OPEN_ANSWERS = {**PRECONDITION, 200: {"description": "The black bookings changed.",
                                      "headers": CALENDAR_ETAG}}
WRITE_ERRORS = {
    **PRECONDITION,
    200: {"description": "The black bookings made.", "headers": CALENDAR_ETAG},
    409: {"description": "A night is sold to a guest (`room_unavailable`): nothing is closed.",
          "content": ERROR},
}


def blackbooking(contract: Contract) -> dict[str, Any]:
    return {"contract_uid": contract.contract_uid, "arrival": contract.arrival.isoformat(),
            "departure": contract.departure.isoformat(), "room_uids": contract.room_uids,
            "status": contract.status}


def calendar(kit: Kit, property_uid: int, arrival: date, departure: date) -> dict[str, Any]:
    """Each room of the property with the state of each night from arrival to departure, and
    its room type's stay restrictions of the night when it has some."""
    session = kit.session()
    rooms = session.scalars(select(Room).where(Room.property_uid == property_uid)
                            .order_by(Room.room_uid)).all()
    held = session.execute(
        select(RoomBooking.room_uid, RoomBooking.date, RoomBooking.contract_uid,
               Contract.blackbooking)
        .join(Contract, Contract.contract_uid == RoomBooking.contract_uid)
        .where(RoomBooking.property_uid == property_uid, RoomBooking.date >= arrival,
               RoomBooking.date < departure))
    taken = {(row.room_uid, row.date): row for row in held}
    restricted = restrictions.read(kit, property_uid, arrival, departure - timedelta(days=1),
                                   {room.room_type for room in rooms})
    days = [arrival + timedelta(days=n) for n in range((departure - arrival).days)]
    answer_rooms = []
    for room in rooms:
        nights = []
        for night in days:
            row = taken.get((room.room_uid, night))
            if row is None:
                state: dict[str, Any] = {"date": night.isoformat(), "status": "free"}
            else:
                state = {"date": night.isoformat(),
                         "status": "closed" if row.blackbooking else "booked",
                         "contract_uid": row.contract_uid}
            restricting = restricted.get(room.room_type, {}).get(night)
            if restricting:
                state["restrictions"] = restricting
            nights.append(state)
        answer_rooms.append({"room_uid": room.room_uid, "room_number": room.room_number,
                             "name": room.name, "room_type": room.room_type,
                             "max_people": room.max_people, "nights": nights})
    return {"property_uid": property_uid, "arrival": arrival.isoformat(),
            "departure": departure.isoformat(), "rooms": answer_rooms}


def callback(kit: Kit, property_uid: int, _id: Any) -> dict[str, Any]:
    """``availability_updated``'s callback: the property's calendar from today for a year (the
    event's ``valid_from`` and ``valid_to`` say which nights to read with
    ``GET /availability/<property_uid>``)."""
    today = date.today()
    return calendar(kit, property_uid, today, today + timedelta(days=restrictions.MAX_STAY))


def _nights_of(payload: dict[str, Any]) -> tuple[list[int], date, date]:
    room_uids = payload.ids("room_uids")
    arrival, departure = payload.date("arrival"), payload.date("departure")
    assert room_uids is not None and arrival is not None and departure is not None
    Body.check_stay(arrival, departure)
    return room_uids, arrival, departure


def _summary(property_uid: int, room_uids: Iterable[int], arrival: date, departure: date,
             contracts: list[Contract]) -> dict[str, Any]:
    return {"property_uid": property_uid, "room_uids": list(room_uids),
            "arrival": arrival.isoformat(), "departure": departure.isoformat(),
            "blackbookings": [blackbooking(c) for c in contracts]}


SUMMARY = {
    "type": "object", "required": ["property_uid", "room_uids", "arrival", "departure",
                                   "blackbookings"],
    "properties": {
        "property_uid": {"type": "integer"},
        "room_uids": {"type": "array", "items": {"type": "integer"}},
        "arrival": {"type": "string", "format": "date"},
        "departure": {"type": "string", "format": "date"},
        "blackbookings": {"type": "array", "items": BLACKBOOKING,
                          "description": "The black bookings made (close) or changed (open)."},
    },
}


def register(api: Api, read_scope: str, write_scope: str) -> None:
    kit = api.kit
    property_param = Param("property_uid", in_="path", type="integer", example=1,
                           description="A property the key's manager runs.")

    @api.route("/availability/<int:property_uid>", scope=read_scope, tags=("availability",),
               summary="A property's availability calendar", response=CALENDAR,
               description="Every room of the property with each night from `arrival` to the "
                           "night before `departure` (at most 366 nights): free, booked (sold "
                           "to a guest) or closed (a black booking). Its `ETag` is what a "
                           "close's or an open's `If-Match` names.", etag=True,
               params=(property_param,
                       Param("arrival", format="date", required=True, example="2099-01-10",
                             description="The first night."),
                       Param("departure", format="date", required=True, example="2099-01-12",
                             description="The day after the last night.")))
    def availability_calendar(property_uid: int) -> Any:
        require_property(property_uid)
        params = current_params()
        Body.check_stay(params["arrival"], params["departure"], past=True)
        existing(kit, property_uid)
        return calendar(kit, property_uid, params["arrival"], params["departure"])

    @api.route("/availability/<int:property_uid>/close", methods=("POST",), scope=write_scope,
               tags=("availability",), summary="Close rooms' nights (black bookings)",
               description="Take the rooms out of sale from `arrival` to the night before "
                           "`departure`. Nights already closed stay closed; the others become "
                           "black bookings, each firing `blackbooking_created`. A night sold to "
                           "a guest answers 409 `room_unavailable` and closes nothing. With "
                           "`If-Match`, closes only if the calendar of those nights still has "
                           "that ETag (else 412). Closes at the same moment take turns, each "
                           "answering as it would alone.",
               params=(property_param,), request_body=NIGHTS_BODY, response=SUMMARY,
               responses=WRITE_ERRORS)
    def availability_close(property_uid: int) -> Any:
        require_property(property_uid)
        room_uids, arrival, departure = _nights_of(Body.of_request(
            ("room_uids", "arrival", "departure")))
        _rooms_at(kit, property_uid, room_uids)
        _check_if_match(kit, property_uid, arrival, departure)
        closed = services.close_nights(kit, property_uid, room_uids, arrival, departure)
        return _answer(kit, property_uid, room_uids, arrival, departure, closed)

    @api.route("/availability/<int:property_uid>/open", methods=("POST",), scope=write_scope,
               tags=("availability",), summary="Open rooms' closed nights",
               description="Put the rooms back on sale from `arrival` to the night before "
                           "`departure`: each black booking holding some of those nights gives "
                           "them up (`booking_modified`; `booking_cancelled` when none is left; "
                           "`blackbooking_created` for the part after a night opened in its "
                           "middle). Nights sold to guests are left as they are. With "
                           "`If-Match`, opens only if the calendar of those nights still has "
                           "that ETag (else 412). Opens at the same moment take turns, each "
                           "answering as it would alone.",
               params=(property_param,), request_body=NIGHTS_BODY, response=SUMMARY,
               responses=OPEN_ANSWERS)
    def availability_open(property_uid: int) -> Any:
        require_property(property_uid)
        room_uids, arrival, departure = _nights_of(Body.of_request(
            ("room_uids", "arrival", "departure")))
        _rooms_at(kit, property_uid, room_uids)
        _check_if_match(kit, property_uid, arrival, departure)
        opened = services.open_nights(kit, property_uid, room_uids, arrival, departure)
        return _answer(kit, property_uid, room_uids, arrival, departure, opened)


def _check_if_match(kit: Kit, property_uid: int, arrival: date, departure: date) -> None:
    """412 unless the calendar of those nights still has the ETag ``If-Match`` names; under the
    property's lock, which the change then keeps, so nothing changes them in between."""
    services.lock_property(kit, property_uid)
    if "If-Match" in request.headers:
        check_if_match(calendar(kit, property_uid, arrival, departure))


def _answer(kit: Kit, property_uid: int, room_uids: list[int], arrival: date, departure: date,
            contracts: list[Contract]) -> tuple[dict[str, Any], None, int, dict[str, str]]:
    """The summary, with the ETag of the calendar of those nights as the change leaves it."""
    kit.session().flush()
    now = etag_of(calendar(kit, property_uid, arrival, departure))
    return _summary(property_uid, room_uids, arrival, departure, contracts), None, 200, {
        "ETag": now}


def existing(kit: Kit, property_uid: int) -> None:
    """404 for a property that does not exist (a super manager's key passes require_property)."""
    if kit.session().get(Property, property_uid) is None:
        raise ApiError(404, "invalid_property_uid", f"no property {property_uid}")


def _rooms_at(kit: Kit, property_uid: int, room_uids: list[int]) -> None:
    """404 for no such property; 422 naming room_uids when one is not a room of it."""
    existing(kit, property_uid)
    found = set(kit.session().scalars(select(Room.room_uid).where(
        Room.property_uid == property_uid, Room.room_uid.in_(room_uids))))
    missing = [uid for uid in room_uids if uid not in found]
    if missing:
        raise Body.invalid("room_uids", f"no room {missing[0]} at property {property_uid}")
