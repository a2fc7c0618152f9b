"""``GET /rates/<property_uid>`` and ``PUT /rates/<property_uid>``: room types' nightly prices.

Rates are the core's tariffs: a price per night for a room type over a range of nights, both
ends included (as ``tariffs_updated``'s callback shows them). Setting a range cuts back the room
type's tariffs around it, so each night has one price.

A push is made under the property's row lock (``services.set_rates``), so racing pushes take
turns: each night is left with one price, the last push's. Its ``If-Match`` names the ETag of
the room type's rates as ``GET /rates/<property_uid>?room_type=<type>`` answers them, which is
also what the push answers and the ETag it sends back.
"""

from __future__ import annotations

from decimal import Decimal
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
from sqlalchemy import select

from jomreskit.domain import Tariff, services

from .availability import existing
from .ranges import RANGE_MEMBERS, RANGE_SCHEMA, range_of

if TYPE_CHECKING:
    from jomreskit import Kit

RATE = {
    "type": "object",
    "required": ["tariff_uid", "room_type", "valid_from", "valid_to", "price_per_night"],
    "properties": {
        "tariff_uid": {"type": "integer"},
        "room_type": {"type": "string"},
        "valid_from": {"type": "string", "format": "date", "description": "The first night."},
        "valid_to": {"type": "string", "format": "date", "description": "The last night."},
        "price_per_night": {"type": "string", "description": 'An amount, e.g. "75.00".'},
    },
}
RATES = {
    "type": "object", "required": ["property_uid", "rates"],
    "properties": {"property_uid": {"type": "integer"},
                   "rates": {"type": "array", "items": RATE}},
}
RATE_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["valid_from", "valid_to", "price_per_night"],
        "additionalProperties": False,
        "properties": {
            **RANGE_SCHEMA,
            "price_per_night": {"oneOf": [{"type": "string"}, {"type": "number"}],
                                "description": 'At least 0, to the cent: "75.00".'},
        },
    }, "example": {"room_type": "Double", "valid_from": "2099-01-10", "valid_to": "2099-01-31",
                   "price_per_night": "80.00"}}},
}
PRECONDITION = {412: {
    "description": "`If-Match` names an ETag the room type's rates no longer have "
                   "(`precondition_failed`): read them again.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
RATE_MEMBERS = (*RANGE_MEMBERS, "price_per_night")

CENT = Decimal("0.01")  # rates are answered to the cent


def as_json(tariff: Tariff) -> dict[str, Any]:
    return {"tariff_uid": tariff.tariff_uid, "room_type": tariff.room_type,
            "valid_from": tariff.valid_from.isoformat(),
            "valid_to": tariff.valid_to.isoformat(),
            "price_per_night": str(tariff.price_per_night.quantize(CENT))}


def register(api: Api, read_scope: str, write_scope: str) -> None:
    kit = api.kit
    property_param = Param("property_uid", in_="path", type="integer", example=1,
                           description="A property the key's manager runs.")

    @api.route("/rates/<int:property_uid>", scope=read_scope, tags=("rates",),
               summary="A property's nightly rates", response=RATES,
               description="The property's rates (tariffs), by room type and first night; "
                           "with `room_type`, that type's only; with `valid_from`/`valid_to`, "
                           "those covering some night between them. The `ETag` of a room type's "
                           "rates is what a push's `If-Match` names.", etag=True,
               params=(property_param,
                       Param("room_type", description="Only this room type's rates."),
                       Param("valid_from", format="date", example="2099-01-01",
                             description="Only rates covering a night from this one on."),
                       Param("valid_to", format="date",
                             description="Only rates covering a night up to this one.")))
    def rates_read(property_uid: int) -> Any:
        require_property(property_uid)
        existing(kit, property_uid)
        params = current_params()
        return {"property_uid": property_uid, "rates": read(kit, property_uid, **params)}

    @api.route("/rates/<int:property_uid>", methods=("PUT",), scope=write_scope,
               tags=("rates",), summary="Set a room type's nightly rate for a range of nights",
               description="Price `room_type` (or the type of room `room_uid`) at "
                           "`price_per_night` from `valid_from` to `valid_to`, both included, "
                           "only the nights of the weekdays in `days` when given. The type's "
                           "rates that covered some of those nights are cut back around them. "
                           "Fires `tariffs_updated` naming the first and last night priced "
                           "(`valid_from`, `valid_to`); answers the property's rates "
                           "for that room type, with their `ETag`. With `If-Match`, the push is "
                           "made only if the room type's rates still have that ETag (as "
                           "`GET /rates/<property_uid>?room_type=<type>` answers it), else 412 "
                           "`precondition_failed`. Pushes at the same moment take turns: each "
                           "night keeps one price, the last push's.",
               params=(property_param,), request_body=RATE_BODY, response=RATES, etag=True,
               responses=PRECONDITION)
    def rates_set(property_uid: int) -> Any:
        require_property(property_uid)
        existing(kit, property_uid)
        payload = Body.of_request(RATE_MEMBERS)
        room_type, valid_from, valid_to, dates = range_of(kit, property_uid, payload)
        price = payload.money("price_per_night")
        assert price is not None
        # Under the lock set_rates takes too, so the rates If-Match is checked against are
        # still the rates when the push is made.
        services.lock_property(kit, property_uid)
        if "If-Match" in request.headers:
            check_if_match({"property_uid": property_uid,
                            "rates": read(kit, property_uid, room_type=room_type)})
        if "days" in payload:  # some weekdays of the range: those nights alone
            services.price_nights(kit, property_uid, room_type, dict.fromkeys(dates, price))
            return {"property_uid": property_uid,
                    "rates": read(kit, property_uid, room_type=room_type)}
        rows = services.set_rates(kit, property_uid, room_type, valid_from, valid_to, price)
        return {"property_uid": property_uid, "rates": [as_json(t) for t in rows]}


def read(kit: Kit, property_uid: int, room_type: str | None = None, valid_from: Any = None,
         valid_to: Any = None) -> list[dict[str, Any]]:
    query = select(Tariff).where(Tariff.property_uid == property_uid)
    if room_type is not None:
        query = query.where(Tariff.room_type == room_type)
    if valid_from is not None:
        query = query.where(Tariff.valid_to >= valid_from)
    if valid_to is not None:
        query = query.where(Tariff.valid_from <= valid_to)
    query = query.order_by(Tariff.room_type, Tariff.valid_from, Tariff.tariff_uid)
    return [as_json(t) for t in kit.session().scalars(query)]
