"""``POST /ari/<property_uid>``: availability, rates and restrictions (ARI) pushed in bulk.

One request carries up to ``MAX_ITEMS`` items, each a room type's range of nights (with an
optional weekday mask) and any of a price, an ``open``/``close`` of its rooms and restrictions.
Each item is applied on its own in a savepoint, so one that is refused (its own 4xx, with code
and member) leaves the others applied; the answer lists every item's status. The whole request
holds the property's lock (writes of the property take turns) and fires one
``tariffs_updated`` and one ``restrictions_updated`` at most, however many items priced or
restricted nights, so a year's push sends a webhook of each kind, not one per night.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from jomreskit_api_core import Api, ApiError, Body, Param, require_property
from sqlalchemy import select

from jomreskit import Conflict, JomresKitError, NotFound, PermissionDenied, ValidationError
from jomreskit.domain import Property, Room, services

from . import restrictions

if TYPE_CHECKING:
    from jomreskit import Kit

MAX_ITEMS = 10_000  # a year of nights, one item each, for 27 room types
AVAILABILITY = ("open", "close")
# An item refused by the domain answers the status the API gives that error.
STATUS_OF = ((NotFound, 404), (PermissionDenied, 403), (ValidationError, 422), (Conflict, 409))
ITEM_MEMBERS = (*restrictions.RANGE_MEMBERS, "price_per_night", "availability",
                *restrictions.NAMES)
ITEM_SCHEMA = {
    "type": "object", "required": ["valid_from", "valid_to"], "additionalProperties": False,
    "properties": {
        **restrictions.RANGE_SCHEMA,
        "price_per_night": {"oneOf": [{"type": "string"}, {"type": "number"}],
                            "description": 'The nights\' price, to the cent: "75.00".'},
        "availability": {"type": "string", "enum": list(AVAILABILITY),
                         "description": "Close the room type's rooms (or room `room_uid`) on "
                                        "those nights (black bookings), or open them."},
        **restrictions.VALUES_SCHEMA,
    },
}
ARI_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["items"], "additionalProperties": False,
    "properties": {"items": {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS,
                             "items": ITEM_SCHEMA}},
}, "example": {"items": [
    {"room_type": "Double", "valid_from": "2099-06-01", "valid_to": "2099-09-30",
     "days": ["fri", "sat"], "price_per_night": "120.00", "min_stay_arrival": 2},
    {"room_type": "Twin", "valid_from": "2099-12-24", "valid_to": "2099-12-26",
     "availability": "close"}]}}}}
RESULT = {
    "type": "object", "required": ["index", "status"],
    "properties": {
        "index": {"type": "integer", "description": "The item's place in `items`, from 0."},
        "status": {"type": ["string", "integer"],
                   "description": '"applied", or the HTTP status refusing the item.'},
        "code": {"type": "string"}, "member": {"type": "string"},
        "message": {"type": "string"},
        "nights": {"type": "integer", "description": "The nights the item changed."},
    },
}
ARI_ANSWER = {
    "type": "object", "required": ["property_uid", "applied", "refused", "items"],
    "properties": {"property_uid": {"type": "integer"}, "applied": {"type": "integer"},
                   "refused": {"type": "integer"},
                   "items": {"type": "array", "items": RESULT}},
}


def register(api: Api, write_scope: str) -> None:
    kit = api.kit

    @api.route("/ari/<int:property_uid>", methods=("POST",), scope=write_scope,
               tags=("restrictions",), summary="Push availability, rates and restrictions "
                                               "in bulk",
               description=f"Up to {MAX_ITEMS} items, each a room type's (or room's) nights "
                           "from `valid_from` to `valid_to`, only those of the weekdays in "
                           "`days` when given, with any of `price_per_night`, `availability` "
                           "(`open` or `close`) and the stay restrictions. Each item is "
                           "applied whole or not at all, and answered in `items` with its "
                           "`index` and `status`: `applied`, or the 4xx refusing it with its "
                           "`code` and `member`; the others are applied all the same. Fires "
                           "`tariffs_updated` and `restrictions_updated` once each at most, "
                           "and each black booking's event. Take an `Idempotency-Key` to "
                           "retry safely.",
               params=(Param("property_uid", in_="path", type="integer", example=1,
                             description="A property the key's manager runs."),),
               request_body=ARI_BODY, response=ARI_ANSWER)
    def ari_push(property_uid: int) -> Any:
        require_property(property_uid)
        services.get(kit, Property, property_uid)
        items = Body.of_request(("items",)).get("items")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
            raise Body.invalid("items", f"must be a list of 1 to {MAX_ITEMS} items")
        services.lock_property(kit, property_uid)
        return push(kit, property_uid, items)


def push(kit: Kit, property_uid: int, items: list[Any]) -> dict[str, Any]:
    """Apply each item in its own savepoint; fire each kind's event once."""
    session = kit.session()
    rooms_by_type: dict[str, list[int]] = {}
    for room_uid, room_type in session.execute(select(Room.room_uid, Room.room_type).where(
            Room.property_uid == property_uid).order_by(Room.room_uid)):
        rooms_by_type.setdefault(room_type, []).append(room_uid)
    results, changed = [], set()
    for index, item in enumerate(items):
        try:
            nights, kinds = _apply(kit, property_uid, item, rooms_by_type)
        except (ApiError, JomresKitError) as refused:
            status = refused.status if isinstance(refused, ApiError) else next(
                (s for kind, s in STATUS_OF if isinstance(refused, kind)), 400)
            results.append({"index": index, "status": status, "code": refused.code,
                            **({"member": refused.field} if refused.field else {}),
                            "message": refused.message})
            continue
        changed |= kinds
        results.append({"index": index, "status": "applied", "nights": nights})
    if "tariffs" in changed:
        kit.fire("tariffs_updated", property_uid=property_uid)
    if "restrictions" in changed:
        kit.fire("restrictions_updated", property_uid=property_uid)
    applied = sum(1 for r in results if r["status"] == "applied")
    return {"property_uid": property_uid, "applied": applied,
            "refused": len(results) - applied, "items": results}


def _apply(kit: Kit, property_uid: int, item: Any, rooms_by_type: dict[str, list[int]]
           ) -> tuple[int, set[str]]:
    """Check an item whole, then make it in a savepoint; the nights it covers and the kinds of
    change it made."""
    if not isinstance(item, dict):
        raise Body.invalid("items", "each item must be a JSON object")
    payload = Body(item)
    for member in payload:
        if member not in ITEM_MEMBERS:
            raise Body.invalid(str(member)[:40], "unknown member")
    room_type, _first, _last, dates = restrictions.range_of(kit, property_uid, payload)
    price = payload.money("price_per_night", required=False)
    availability = payload.get("availability")
    if availability is not None and availability not in AVAILABILITY:
        raise Body.invalid("availability", "must be open or close")
    values = restrictions.values_of(payload)
    if price is None and availability is None and not values:
        raise Body.invalid("price_per_night", "give a price, an availability or a restriction")
    room_uid = payload.id("room_uid", required=False)
    rooms = [room_uid] if room_uid is not None else rooms_by_type.get(room_type, [])
    if availability is not None and not rooms:
        raise Body.invalid("room_type", f"no room of type {room_type!r}")
    kinds = set()
    with kit.session().begin_nested():
        if price is not None:
            services.price_nights(kit, property_uid, room_type, dates, price, fire=False)
            kinds.add("tariffs")
        if values:
            restrictions.write(kit, property_uid, room_type, dates, values)
            kinds.add("restrictions")
        if availability is not None:
            change = services.close_nights if availability == "close" else services.open_nights
            for arrival, departure in _runs(dates):
                change(kit, property_uid, rooms, arrival, departure)
    return len(dates), kinds


def _runs(dates: list[date]) -> list[tuple[date, date]]:
    """Consecutive nights as (arrival, departure) pairs."""
    runs: list[tuple[date, date]] = []
    day = timedelta(days=1)
    for night in dates:
        if runs and runs[-1][1] == night:
            runs[-1] = (runs[-1][0], night + day)
        else:
            runs.append((night, night + day))
    return runs
