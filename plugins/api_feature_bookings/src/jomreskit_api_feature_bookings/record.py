"""A booking as this API reads and answers it: plain JSON values (money and dates as text)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from jomreskit.db import timestamp_text
from jomreskit.domain import Contract, Guest

CENT = Decimal("0.01")
GUEST_MEMBERS = ("firstname", "surname", "email", "telephone", "street", "town", "postcode",
                 "country")


def guest(row: Guest | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"guest_uid": row.guest_uid, **{name: getattr(row, name) for name in GUEST_MEMBERS}}


def booking(contract: Contract) -> dict[str, Any]:
    """The booking's record: what GET answers, and what its ETag is computed from."""
    return {
        "contract_uid": contract.contract_uid,
        "property_uid": contract.property_uid,
        "booking_number": contract.booking_number,
        "arrival": contract.arrival.isoformat(),
        "departure": contract.departure.isoformat(),
        "nights": (contract.departure - contract.arrival).days,
        "status": contract.status,
        "room_uids": contract.room_uids,
        "adults": contract.adults,
        "children": contract.children,
        "guest": guest(contract.guest),
        "currency": contract.currency,
        "contract_total": str(Decimal(contract.contract_total).quantize(CENT)),
        "deposit_required": str(Decimal(contract.deposit_required).quantize(CENT)),
        "special_requests": contract.special_requests,
        "created_at": timestamp_text(contract.created_at),
        "updated_at": timestamp_text(contract.updated_at),
    }


GUEST_SCHEMA = {
    "type": ["object", "null"],
    "properties": {"guest_uid": {"type": "integer"},
                   **{name: {"type": "string"} for name in GUEST_MEMBERS}},
}
BOOKING_SCHEMA = {
    "type": "object",
    "required": ["contract_uid", "property_uid", "arrival", "departure", "status", "room_uids"],
    "properties": {
        "contract_uid": {"type": "integer"},
        "property_uid": {"type": "integer"},
        "booking_number": {"type": "string"},
        "arrival": {"type": "string", "format": "date"},
        "departure": {"type": "string", "format": "date"},
        "nights": {"type": "integer"},
        "status": {"type": "string", "enum": ["provisional", "confirmed", "cancelled", "noshow"]},
        "room_uids": {"type": "array", "items": {"type": "integer"}},
        "adults": {"type": "integer"},
        "children": {"type": "integer"},
        "guest": GUEST_SCHEMA,
        "currency": {"type": "string"},
        "contract_total": {"type": "string"},
        "deposit_required": {"type": "string"},
        "special_requests": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
