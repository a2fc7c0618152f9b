"""The records a callback answers with: plain JSON-ready dicts built from the domain models.

Money is a string with two decimals ("225.00") so no client loses a cent to floating point;
dates and times are ISO 8601. Nothing secret (a password hash, say) is ever part of a record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import object_session

from jomreskit.domain import (
    Contract,
    ContractNote,
    Coupon,
    Deposit,
    Extra,
    Guest,
    Invoice,
    InvoiceLine,
    Property,
    Review,
    Room,
    Tariff,
)

# Every guest field a callback can carry besides guest_uid, which is always there.
GUEST_FIELDS = (
    "firstname", "surname", "email", "telephone", "street", "town", "postcode", "country",
    "created_at", "updated_at",
)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(Decimal("0.01")))


def _when(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def guest_record(guest: Guest, fields: Iterable[str] = GUEST_FIELDS) -> dict[str, Any]:
    """A guest, limited to ``fields`` (JOMRESKIT_WEBHOOKS_GUEST_FIELDS)."""
    record: dict[str, Any] = {"guest_uid": guest.guest_uid, "property_uid": guest.property_uid}
    for name in fields:
        value = getattr(guest, name)
        record[name] = _when(value) if isinstance(value, datetime) else value
    return record


def room_record(room: Room) -> dict[str, Any]:
    return {
        "room_uid": room.room_uid,
        "property_uid": room.property_uid,
        "room_number": room.room_number,
        "name": room.name,
        "room_type": room.room_type,
        "max_people": room.max_people,
        "price_per_night": _money(room.price_per_night),
        "features": list(room.features or []),
    }


def note_record(note: ContractNote) -> dict[str, Any]:
    return {
        "note_id": note.note_id,
        "contract_uid": note.contract_uid,
        "text": note.text,
        "created_at": _when(note.created_at),
    }


def deposit_record(deposit: Deposit) -> dict[str, Any]:
    return {
        "deposit_id": deposit.deposit_id,
        "contract_uid": deposit.contract_uid,
        "amount": _money(deposit.amount),
        "reference": deposit.reference,
        "created_at": _when(deposit.created_at),
    }


def contract_record(contract: Contract, guest_fields: Iterable[str] = GUEST_FIELDS
                    ) -> dict[str, Any]:
    """A booking with its guest, rooms, nights, status, totals, deposits and notes."""
    paid = sum((d.amount for d in contract.deposits), Decimal("0"))
    nights_by_room: dict[int, list[str | None]] = {}
    for night in contract.room_bookings:
        nights_by_room.setdefault(night.room_uid, []).append(_when(night.date))
    session = object_session(contract)
    rooms = {
        room.room_uid: room
        for room in session.scalars(select(Room).where(Room.room_uid.in_(nights_by_room)))
    } if session is not None and nights_by_room else {}
    return {
        "contract_uid": contract.contract_uid,
        "property_uid": contract.property_uid,
        "booking_number": contract.booking_number,
        "arrival": _when(contract.arrival),
        "departure": _when(contract.departure),
        "nights": (contract.departure - contract.arrival).days,
        "status": contract.status,
        "blackbooking": contract.blackbooking,
        "checked_in": contract.checked_in,
        "checked_out": contract.checked_out,
        "adults": contract.adults,
        "children": contract.children,
        "guest": None if contract.guest is None else guest_record(contract.guest, guest_fields),
        "rooms": [
            {
                "room_uid": uid,
                "room_number": rooms[uid].room_number,
                "name": rooms[uid].name,
                "room_type": rooms[uid].room_type,
                "nights": dates,
            }
            for uid, dates in sorted(nights_by_room.items()) if uid in rooms
        ],
        "currency": contract.currency,
        "totals": {
            "contract_total": _money(contract.contract_total),
            "deposit_required": _money(contract.deposit_required),
            "deposits_paid": _money(paid),
            "balance": _money(contract.contract_total - paid),
        },
        "deposits": [deposit_record(d) for d in contract.deposits],
        "notes": [note_record(n) for n in contract.notes],
        "special_requests": contract.special_requests,
        "created_at": _when(contract.created_at),
        "updated_at": _when(contract.updated_at),
    }


def invoice_line_record(line: InvoiceLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "description": line.description,
        "quantity": line.quantity,
        "unit_price": _money(line.unit_price),
        "tax_rate": str(line.tax_rate),
        "total": _money(line.total),
    }


def invoice_record(invoice: Invoice) -> dict[str, Any]:
    """An invoice with its lines and total."""
    return {
        "invoice_uid": invoice.invoice_uid,
        "property_uid": invoice.property_uid,
        "contract_uid": invoice.contract_uid,
        "guest_uid": invoice.guest_uid,
        "status": invoice.status,
        "currency": invoice.currency,
        "due_date": _when(invoice.due_date),
        "lines": [invoice_line_record(line) for line in invoice.lines],
        "total": _money(invoice.total),
        "created_at": _when(invoice.created_at),
        "updated_at": _when(invoice.updated_at),
    }


def property_record(prop: Property) -> dict[str, Any]:
    """A property with its rooms."""
    return {
        "property_uid": prop.property_uid,
        "name": prop.name,
        "description": prop.description,
        "street": prop.street,
        "town": prop.town,
        "region": prop.region,
        "country": prop.country,
        "postcode": prop.postcode,
        "email": prop.email,
        "telephone": prop.telephone,
        "stars": prop.stars,
        "price_from": _money(prop.price_from),
        "currency": prop.currency,
        "features": list(prop.features or []),
        "published": prop.published,
        "rooms": [room_record(room) for room in prop.rooms],
        "created_at": _when(prop.created_at),
        "updated_at": _when(prop.updated_at),
    }


def tariff_record(tariff: Tariff) -> dict[str, Any]:
    return {
        "tariff_uid": tariff.tariff_uid,
        "room_type": tariff.room_type,
        "valid_from": _when(tariff.valid_from),
        "valid_to": _when(tariff.valid_to),
        "price_per_night": _money(tariff.price_per_night),
    }


def tariffs_record(property_uid: int, tariffs: Iterable[Tariff]) -> dict[str, Any]:
    return {"property_uid": property_uid, "tariffs": [tariff_record(t) for t in tariffs]}


def review_record(review: Review) -> dict[str, Any]:
    return {
        "review_uid": review.review_uid,
        "property_uid": review.property_uid,
        "reviewer": review.reviewer,
        "rating": review.rating,
        "title": review.title,
        "text": review.text,
        "published": review.published,
        "created_at": _when(review.created_at),
    }


def extra_record(extra: Extra) -> dict[str, Any]:
    return {
        "extra_uid": extra.extra_uid,
        "property_uid": extra.property_uid,
        "name": extra.name,
        "description": extra.description,
        "price": _money(extra.price),
    }


def coupon_record(coupon: Coupon) -> dict[str, Any]:
    return {
        "coupon_uid": coupon.coupon_uid,
        "property_uid": coupon.property_uid,
        "code": coupon.code,
        "discount_percent": str(coupon.discount_percent),
        "valid_from": _when(coupon.valid_from),
        "valid_to": _when(coupon.valid_to),
    }

