"""Stay restrictions of room types' nights: stored, read, written, and enforced on bookings.

Six restrictions, as channel managers send them (OpenTravel's ``OTA_HotelAvailNotif``,
Channex): ``min_stay_arrival``, ``min_stay_through``, ``max_stay`` (a number of nights),
``closed_to_arrival``, ``closed_to_departure``, ``stop_sell`` (true or false). Each night of a
room type has at most one value of each (``room_type_restrictions``, one row per night); a
write sets the restrictions it names on the nights it names and leaves every other one as it
was. A value of ``null`` lifts that restriction.

What a stay of ``n`` nights from ``arrival`` to ``departure`` must keep, in each room's type:

- ``min_stay_arrival`` of the arrival night: ``n`` at least that;
- ``max_stay`` of the arrival night: ``n`` at most that;
- ``closed_to_arrival`` of the arrival night: not true;
- ``min_stay_through`` of every night of the stay: ``n`` at least that;
- ``stop_sell`` of every night of the stay: not true;
- ``closed_to_departure`` of the departure date (the day after the last night): not true.

Writes are one ``INSERT ... ON CONFLICT DO UPDATE`` of the nights' rows under the property's
lock (``services.lock_property``), so racing writes take turns as rate pushes do, and each
night keeps one value of each restriction: the last write's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from flask import request
from jomreskit_api_core import (
    Api,
    Body,
    Param,
    check_if_match,
    current_params,
    require_property,
)
from sqlalchemy import ColumnElement, and_, exists, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from jomreskit import ValidationError
from jomreskit.domain import Property, Room, services

from .models import Restriction
from .ranges import RANGE_MEMBERS, RANGE_SCHEMA, range_of

if TYPE_CHECKING:
    from jomreskit import Kit

STAYS = ("min_stay_arrival", "min_stay_through", "max_stay")  # a number of nights
FLAGS = ("closed_to_arrival", "closed_to_departure", "stop_sell")  # true or false
NAMES = (*STAYS, *FLAGS)
MAX_STAY = 366  # the longest stay a booking may have

_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def write(kit: Kit, property_uid: int, room_type: str, dates: list[date],
          values: Mapping[str, int | bool | None]) -> int:
    """Set ``values`` (restriction name → value, ``None`` lifts it) on the room type's
    ``dates``, leaving the restrictions not named as they are; one statement. The caller holds
    the property's lock. Returns the number of nights written."""
    return write_nights(kit, property_uid, {(room_type, night): values for night in dates})


def write_nights(kit: Kit, property_uid: int,
                 nights: Mapping[tuple[str, date], Mapping[str, int | bool | None]]) -> int:
    """Set each (room type, night)'s restrictions as given, leaving those not named as they
    are: one ``INSERT ... ON CONFLICT DO UPDATE`` per set of restrictions named. The caller
    holds the property's lock. Returns the number of nights written."""
    by_names: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for (room_type, night), values in nights.items():
        if values:
            by_names.setdefault(tuple(sorted(values)), []).append(
                {"property_uid": property_uid, "room_type": room_type, "date": night, **values})
    session = kit.session()
    insert = _INSERT[session.get_bind().dialect.name](Restriction)
    for names, rows in by_names.items():
        session.execute(insert.on_conflict_do_update(
            index_elements=[Restriction.property_uid, Restriction.room_type, Restriction.date],
            set_={name: insert.excluded[name] for name in names}), rows)
    return sum(len(rows) for rows in by_names.values())


def read(kit: Kit, property_uid: int, first: date, last: date,
         room_types: Iterable[str] | None = None) -> dict[str, dict[date, dict[str, Any]]]:
    """``{room type: {night: {restriction: value}}}`` of the nights ``first`` to ``last`` (both
    included) that have some restriction, naming only the restrictions set."""
    query = select(Restriction).where(
        Restriction.property_uid == property_uid, Restriction.date >= first,
        Restriction.date <= last)
    if room_types is not None:
        query = query.where(Restriction.room_type.in_(list(room_types)))
    found: dict[str, dict[date, dict[str, Any]]] = {}
    for row in kit.session().scalars(query.order_by(Restriction.room_type, Restriction.date)):
        values = {name: getattr(row, name) for name in NAMES if getattr(row, name) is not None}
        if values:
            found.setdefault(row.room_type, {})[row.date] = values
    return found


def as_json(found: dict[str, dict[date, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{"room_type": room_type,
             "nights": [{"date": night.isoformat(), **values}
                        for night, values in by_night.items()]}
            for room_type, by_night in found.items()]


def check_stay(kit: Kit, property_uid: int, arrival: date, departure: date,
               room_uids: list[int]) -> None:
    """Refuse (422, the restriction as its code) a stay that breaks one of its rooms' types'
    restrictions, naming the restriction and the night."""
    types = set(kit.session().scalars(select(Room.room_type).where(
        Room.property_uid == property_uid, Room.room_uid.in_(room_uids))))
    if not types:
        return
    length = (departure - arrival).days
    for room_type, by_night in read(kit, property_uid, arrival, departure, types).items():
        _check_type(room_type, by_night, arrival, departure, length)


def bookable(arrival: date, departure: date) -> ColumnElement[bool]:
    """A condition on ``Room``: no restriction of the room's type refuses this stay (the same
    rules as ``check_stay``, in SQL, for searches)."""
    length = (departure - arrival).days
    refusing = or_(
        and_(Restriction.date == arrival,
             or_(Restriction.closed_to_arrival.is_(True), Restriction.min_stay_arrival > length,
                 Restriction.max_stay < length)),
        and_(Restriction.date >= arrival, Restriction.date < departure,
             or_(Restriction.stop_sell.is_(True), Restriction.min_stay_through > length)),
        and_(Restriction.date == departure, Restriction.closed_to_departure.is_(True)),
    )
    return ~exists(select(literal(1)).where(
        Restriction.property_uid == Room.property_uid, Restriction.room_type == Room.room_type,
        Restriction.date >= arrival, Restriction.date <= departure, refusing))


def _check_type(room_type: str, by_night: dict[date, dict[str, Any]], arrival: date,
                departure: date, length: int) -> None:
    first = by_night.get(arrival, {})
    if first.get("closed_to_arrival"):
        _refuse("closed_to_arrival", room_type, arrival, "arrival", "no arrival that day")
    if length < first.get("min_stay_arrival", 0):
        _refuse("min_stay_arrival", room_type, arrival, "departure",
                f"a stay arriving then must have at least {first['min_stay_arrival']} nights, "
                f"not {length}")
    if length > first.get("max_stay", MAX_STAY):
        _refuse("max_stay", room_type, arrival, "departure",
                f"a stay arriving then may have at most {first['max_stay']} nights, not {length}")
    for night in sorted(by_night):
        if night >= departure:
            break
        values = by_night[night]
        if values.get("stop_sell"):
            _refuse("stop_sell", room_type, night, "arrival", "the night is not for sale")
        if length < values.get("min_stay_through", 0):
            _refuse("min_stay_through", room_type, night, "departure",
                    f"a stay through it must have at least {values['min_stay_through']} "
                    f"nights, not {length}")
    if by_night.get(departure, {}).get("closed_to_departure"):
        _refuse("closed_to_departure", room_type, departure, "departure",
                "no departure that day")


def _refuse(restriction: str, room_type: str, night: date, field: str, why: str) -> None:
    raise ValidationError(f"{restriction} of room type {room_type!r} on "
                          f"{night.isoformat()}: {why}", code=restriction, field=field)


# -- the API ----------------------------------------------------------------------------------

VALUES_SCHEMA: dict[str, Any] = {
    **{name: {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_STAY,
              "description": "Nights; null lifts it."} for name in STAYS},
    **{name: {"type": ["boolean", "null"], "description": "null lifts it."} for name in FLAGS},
}
RESTRICTIONS_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["valid_from", "valid_to"], "additionalProperties": False,
    "minProperties": 4, "properties": {**RANGE_SCHEMA, **VALUES_SCHEMA},
}, "example": {"room_type": "Double", "valid_from": "2099-06-01", "valid_to": "2099-09-30",
               "days": ["fri", "sat"], "min_stay_arrival": 2}}}}
RESTRICTIONS = {
    "type": "object", "required": ["property_uid", "arrival", "departure", "room_types"],
    "properties": {
        "property_uid": {"type": "integer"},
        "arrival": {"type": "string", "format": "date"},
        "departure": {"type": "string", "format": "date"},
        "room_types": {"type": "array", "items": {
            "type": "object", "required": ["room_type", "nights"],
            "properties": {"room_type": {"type": "string"}, "nights": {"type": "array", "items": {
                "type": "object", "required": ["date"],
                "properties": {"date": {"type": "string", "format": "date"},
                               **VALUES_SCHEMA}}}}}},
    },
}
PRECONDITION = {412: {
    "description": "`If-Match` names an ETag the restrictions of those nights no longer have "
                   "(`precondition_failed`): read them again.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}


def values_of(payload: Any) -> dict[str, int | bool | None]:
    """The restrictions a body names, each checked (422 naming the member)."""
    values: dict[str, int | bool | None] = {}
    for name in STAYS:
        if name in payload:
            value = payload[name]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 1 <= value <= MAX_STAY):
                raise Body.invalid(name, f"must be a number of nights from 1 to {MAX_STAY}, "
                                         "or null")
            values[name] = value
    for name in FLAGS:
        if name in payload:
            if payload[name] is not None and not isinstance(payload[name], bool):
                raise Body.invalid(name, "must be true, false or null")
            values[name] = payload[name]
    return values


def answer(kit: Kit, property_uid: int, arrival: date, departure: date,
           room_types: Iterable[str] | None = None) -> dict[str, Any]:
    """What ``GET /restrictions/<property_uid>`` answers for those nights."""
    found = read(kit, property_uid, arrival, departure - timedelta(days=1), room_types)
    return {"property_uid": property_uid, "arrival": arrival.isoformat(),
            "departure": departure.isoformat(), "room_types": as_json(found)}


def register(api: Api, read_scope: str, write_scope: str) -> None:
    kit = api.kit
    property_param = Param("property_uid", in_="path", type="integer", example=1,
                           description="A property the key's manager runs.")

    @api.route("/restrictions/<int:property_uid>", scope=read_scope, tags=("restrictions",),
               summary="A property's stay restrictions", response=RESTRICTIONS, etag=True,
               description="Each room type's nights from `arrival` to the night before "
                           "`departure` (at most 366 nights) that have a stay restriction, "
                           "naming the restrictions set. Its `ETag` is what a write's "
                           "`If-Match` names (with `room_type`, `arrival` the write's "
                           "`valid_from` and `departure` the day after its `valid_to`).",
               params=(property_param,
                       Param("arrival", format="date", required=True, example="2099-01-10",
                             description="The first night."),
                       Param("departure", format="date", required=True, example="2099-01-12",
                             description="The day after the last night."),
                       Param("room_type", description="Only this room type's nights.")))
    def restrictions_read(property_uid: int) -> Any:
        require_property(property_uid)
        params = current_params()
        Body.check_stay(params["arrival"], params["departure"], past=True)
        services.get(kit, Property, property_uid)  # 404 invalid_property_uid
        room_type = params.get("room_type")
        return answer(kit, property_uid, params["arrival"], params["departure"],
                      None if room_type is None else [room_type])

    @api.route("/restrictions/<int:property_uid>", methods=("PUT",), scope=write_scope,
               tags=("restrictions",), summary="Set stay restrictions over a range of nights",
               description="Set the restrictions named (`min_stay_arrival`, "
                           "`min_stay_through`, `max_stay`, `closed_to_arrival`, "
                           "`closed_to_departure`, `stop_sell`; `null` lifts one) on "
                           "`room_type`'s (or room `room_uid`'s type's) nights from "
                           "`valid_from` to `valid_to`, both included, only those of the "
                           "weekdays in `days` when given. Restrictions not named keep their "
                           "values. Fires `restrictions_updated` naming the first and last "
                           "night written (`valid_from`, `valid_to`); answers the room type's "
                           "restrictions over the range, with their `ETag`. With `If-Match`, "
                           "made only if they still have that ETag (else 412). Writes at the "
                           "same moment take turns: each night keeps one value of each "
                           "restriction, the last write's.",
               params=(property_param,), request_body=RESTRICTIONS_BODY, response=RESTRICTIONS,
               etag=True, responses=PRECONDITION)
    def restrictions_set(property_uid: int) -> Any:
        require_property(property_uid)
        services.get(kit, Property, property_uid)  # 404 invalid_property_uid
        payload = Body.of_request((*RANGE_MEMBERS, *NAMES))
        room_type, valid_from, valid_to, dates = range_of(kit, property_uid, payload)
        values = values_of(payload)
        if not values:
            raise Body.invalid("min_stay_arrival", f"name at least one of {', '.join(NAMES)}")
        departure = valid_to + timedelta(days=1)
        services.lock_property(kit, property_uid)
        if "If-Match" in request.headers:
            check_if_match(answer(kit, property_uid, valid_from, departure, [room_type]))
        write(kit, property_uid, room_type, dates, values)
        if dates:  # a weekday mask may keep none of the range's nights
            kit.fire("restrictions_updated", property_uid=property_uid,
                     **services.nights_covered(dates[0], dates[-1]))
        return answer(kit, property_uid, valid_from, departure, [room_type])


def callback(kit: Kit, property_uid: int, _id: Any) -> dict[str, Any]:
    """``restrictions_updated``'s callback: the property's restrictions from today for a year."""
    today = date.today()
    return answer(kit, property_uid, today, today + timedelta(days=MAX_STAY))
