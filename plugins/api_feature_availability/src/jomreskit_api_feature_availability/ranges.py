"""A write's range of nights, as rates, restrictions and the bulk push take it: a room type (or
a room, naming its type), the first and last night (``valid_from``, ``valid_to``, both
included, at most a year, none past) and an optional weekday mask (``days``). One parser, so
the three answer a bad range the same way."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from jomreskit_api_core import Body

from jomreskit.domain import Room

if TYPE_CHECKING:
    from jomreskit import Kit

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order


def nights(first: date, last: date, days: Iterable[str] | None = None) -> list[date]:
    """The nights from ``first`` to ``last`` (both included) whose weekday is in ``days``
    (every night when ``days`` is None)."""
    wanted = None if days is None else {WEEKDAYS.index(d) for d in days}
    count = (last - first).days + 1
    every = (first + timedelta(days=n) for n in range(count))
    return [night for night in every if wanted is None or night.weekday() in wanted]


DAYS_SCHEMA = {"type": "array", "minItems": 1, "maxItems": 7,
               "items": {"type": "string", "enum": list(WEEKDAYS)},
               "description": "Only the nights of these weekdays (default: every night)."}
RANGE_SCHEMA: dict[str, Any] = {
    "room_type": {"type": "string", "minLength": 1, "maxLength": 100,
                  "description": "The room type (or give `room_uid`)."},
    "room_uid": {"type": "integer", "minimum": 1,
                 "description": "A room of the property: its room type."},
    "valid_from": {"type": "string", "format": "date", "description": "The first night."},
    "valid_to": {"type": "string", "format": "date",
                 "description": "The last night (at most 366 nights)."},
    "days": DAYS_SCHEMA,
}
RANGE_MEMBERS = ("room_type", "room_uid", "valid_from", "valid_to", "days")


def room_type_of(kit: Kit, property_uid: int, payload: Any) -> str:
    """The room type a body names, as ``room_type`` or as the type of room ``room_uid``."""
    room_uid = payload.id("room_uid", required=False)
    room_type = payload.text("room_type", 100)
    if (room_uid is None) == (room_type is None):
        raise Body.invalid("room_type", "give room_type or room_uid, one of them")
    if room_uid is not None:
        room = kit.session().get(Room, room_uid)
        if room is None or room.property_uid != property_uid:
            raise Body.invalid("room_uid", f"no room {room_uid} at property {property_uid}")
        return room.room_type
    assert room_type is not None
    if not room_type.strip():
        raise Body.invalid("room_type", "must not be empty")
    return room_type


def range_of(kit: Kit, property_uid: int, payload: Any) -> tuple[str, date, date, list[date]]:
    """The room type, first and last night, and the nights the mask keeps, of a body's range."""
    room_type = room_type_of(kit, property_uid, payload)
    valid_from, valid_to = payload.date("valid_from"), payload.date("valid_to")
    assert valid_from is not None and valid_to is not None
    if valid_to < valid_from:
        raise Body.invalid("valid_to", "must not be before valid_from")
    if (valid_to - valid_from).days >= Body.MAX_NIGHTS:
        raise Body.invalid("valid_to", f"at most {Body.MAX_NIGHTS} nights from valid_from")
    if valid_from < date.today():
        raise Body.invalid("valid_from", "is in the past")
    days = payload.get("days")
    if days is not None and (not isinstance(days, list) or not days
                             or any(d not in WEEKDAYS for d in days)):
        raise Body.invalid("days", f"must be a list of weekdays, of {', '.join(WEEKDAYS)}")
    return room_type, valid_from, valid_to, nights(valid_from, valid_to, days)
