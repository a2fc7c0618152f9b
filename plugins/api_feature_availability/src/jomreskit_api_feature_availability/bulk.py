"""``POST /ari/<property_uid>``: availability, rates and restrictions (ARI) pushed in bulk.

One request carries up to ``MAX_ITEMS`` items, each a room type's range of nights (with an
optional weekday mask) and any of a price, an ``open``/``close`` of its rooms and restrictions.
Each item is applied whole or not at all, so one that is refused (its own 4xx, with code and
member) leaves the others applied; the answer lists every item's status. Items are checked
first; opens and closes are made item by item in savepoints (a night sold to a guest refuses
that item, its price and restrictions too); then the prices and restrictions of every item
left are written set-based, later items winning on a night they share, so a year of items
costs a handful of statements, not a few per item. The whole request holds the property's lock
(writes of the property take turns) and fires one event of each kind at most,
``availability_updated``, ``tariffs_updated`` and ``restrictions_updated``, each naming the
first and last night its kind of item changed (``valid_from``, ``valid_to``), however many items
opened, closed, priced or restricted nights: a year's push sends three webhooks, not one per
night or per black booking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from jomreskit_api_core import Api, ApiError, Body, Param, require_property
from sqlalchemy import select

from jomreskit import Conflict, JomresKitError, NotFound, PermissionDenied, ValidationError
from jomreskit.domain import Property, Room, services

from . import ranges, restrictions

if TYPE_CHECKING:
    from jomreskit import Kit

MAX_ITEMS = 10_000  # a year of nights, one item each, for 27 room types
AVAILABILITY = ("open", "close")
# An item refused by the domain answers the status the API gives that error.
STATUS_OF = ((NotFound, 404), (PermissionDenied, 403), (ValidationError, 422), (Conflict, 409))
ITEM_MEMBERS = (*ranges.RANGE_MEMBERS, "price_per_night", "availability",
                *restrictions.NAMES)
ITEM_SCHEMA = {
    "type": "object", "required": ["valid_from", "valid_to"], "additionalProperties": False,
    "properties": {
        **ranges.RANGE_SCHEMA,
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
                           "`availability_updated`, `tariffs_updated` and "
                           "`restrictions_updated` once each at most, each naming the first "
                           "and last night that kind of item changed (`valid_from`, "
                           "`valid_to`); the black bookings the opens and closes make or "
                           "change fire none of their own. Take an `Idempotency-Key` to "
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


@dataclass
class Item:
    """An item checked whole: what it changes, on which nights."""

    index: int
    room_type: str
    dates: list[date]
    rooms: list[int]
    price: Decimal | None
    availability: str | None
    values: dict[str, int | bool | None]


def push(kit: Kit, property_uid: int, items: list[Any]) -> dict[str, Any]:
    """Check every item, make the opens and closes item by item (each in a savepoint: a night
    sold to a guest refuses that item whole), then write the prices and restrictions of the
    items left, later items winning on a night, set-based: one price write per room type and
    one upsert per set of restrictions named. Fires each kind's event once, naming the first
    and last night of that kind's items."""
    session = kit.session()
    rooms_by_type: dict[str, list[int]] = {}
    for room_uid, room_type in session.execute(select(Room.room_uid, Room.room_type).where(
            Room.property_uid == property_uid).order_by(Room.room_uid)):
        rooms_by_type.setdefault(room_type, []).append(room_uid)
    results: dict[int, dict[str, Any]] = {}
    checked = []
    for index, item in enumerate(items):
        try:
            checked.append(_check(kit, property_uid, index, item, rooms_by_type))
        except (ApiError, JomresKitError) as refused:
            results[index] = _refusal(index, refused)
    made = []
    for item in checked:
        if item.availability is not None:
            try:
                with session.begin_nested():
                    change = (services.close_nights if item.availability == "close"
                              else services.open_nights)
                    for arrival, departure in _runs(item.dates):
                        change(kit, property_uid, item.rooms, arrival, departure, fire=False)
            except JomresKitError as refused:
                results[item.index] = _refusal(item.index, refused)
                continue
        made.append(item)
    prices: dict[str, dict[date, Decimal]] = {}
    restricted: dict[tuple[str, date], dict[str, int | bool | None]] = {}
    for item in made:
        if item.price is not None:
            prices.setdefault(item.room_type, {}).update(dict.fromkeys(item.dates, item.price))
        if item.values:
            for night in item.dates:
                restricted.setdefault((item.room_type, night), {}).update(item.values)
        results[item.index] = {"index": item.index, "status": "applied",
                               "nights": len(item.dates)}
    for room_type, priced in prices.items():
        services.price_nights(kit, property_uid, room_type, priced, fire=False)
    restrictions.write_nights(kit, property_uid, restricted)
    for event, kind in (("availability_updated", [i for i in made if i.availability]),
                        ("tariffs_updated", [i for i in made if i.price is not None]),
                        ("restrictions_updated", [i for i in made if i.values])):
        nights = [night for item in kind for night in item.dates[:1] + item.dates[-1:]]
        if nights:  # an item whose weekdays fall on none of its nights changed none
            kit.fire(event, property_uid=property_uid,
                     **services.nights_covered(min(nights), max(nights)))
    return {"property_uid": property_uid, "applied": len(made),
            "refused": len(items) - len(made), "items": [results[i] for i in range(len(items))]}


def _refusal(index: int, refused: ApiError | JomresKitError) -> dict[str, Any]:
    status = refused.status if isinstance(refused, ApiError) else next(
        (s for kind, s in STATUS_OF if isinstance(refused, kind)), 400)
    return {"index": index, "status": status, "code": refused.code,
            **({"member": refused.field} if refused.field else {}),
            "message": refused.message}


def _check(kit: Kit, property_uid: int, index: int, item: Any,
           rooms_by_type: dict[str, list[int]]) -> Item:
    """An item read and checked whole, or the 4xx refusing it (nothing written)."""
    if not isinstance(item, dict):
        raise Body.invalid("items", "each item must be a JSON object")
    payload = Body(item)
    for member in payload:
        if member not in ITEM_MEMBERS:
            raise Body.invalid(str(member)[:40], "unknown member")
    room_type, _first, _last, dates = ranges.range_of(kit, property_uid, payload)
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
    return Item(index, room_type, dates, rooms, price, availability, values)


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
