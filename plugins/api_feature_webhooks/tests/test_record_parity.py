"""Each record the database builds as JSON is the record Python builds from the same rows, on
either database: the same keys in the same order, money as two-decimal strings, dates as ISO
8601, and times as ``timestamp_text`` writes every other time jomreskit shows (fixed
microseconds, ``+00:00``), whether or not a time has a fraction of a second."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from jomreskit_api_feature_webhooks.records import GUEST_FIELDS, add_invoice_totals

from jomreskit.core.domain import services
from jomreskit.core.domain.models import (
    Contract,
    ContractNote,
    Coupon,
    Deposit,
    Extra,
    Guest,
    Invoice,
    Property,
    Review,
    Room,
)
from jomreskit.db import timestamp_text

ON_THE_SECOND = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(Decimal("0.01")))


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def guest(g: Guest) -> dict[str, Any]:
    fields = {name: timestamp_text(getattr(g, name)) if name.endswith("_at")
              else getattr(g, name) for name in GUEST_FIELDS}
    return {"guest_uid": g.guest_uid, "property_uid": g.property_uid, **fields}


def room(r: Room) -> dict[str, Any]:
    return {"room_uid": r.room_uid, "property_uid": r.property_uid,
            "room_number": r.room_number, "name": r.name, "room_type": r.room_type,
            "max_people": r.max_people, "price_per_night": money(r.price_per_night),
            "features": r.features if isinstance(r.features, list) else []}


def note(n: ContractNote) -> dict[str, Any]:
    return {"note_id": n.note_id, "contract_uid": n.contract_uid, "text": n.text,
            "created_at": timestamp_text(n.created_at)}


def deposit(d: Deposit) -> dict[str, Any]:
    return {"deposit_id": d.deposit_id, "contract_uid": d.contract_uid,
            "amount": money(d.amount), "reference": d.reference,
            "created_at": timestamp_text(d.created_at)}


def contract(c: Contract, session: Any) -> dict[str, Any]:
    paid = sum((d.amount for d in c.deposits), Decimal("0"))
    booked: dict[int, dict[str, Any]] = {}
    for night in sorted(c.room_bookings, key=lambda b: b.date):
        booked.setdefault(night.room_uid, []).append(night.date.isoformat())
    rooms = []
    for room_uid in sorted(booked):
        r = session.get(Room, room_uid)
        rooms.append({"room_uid": r.room_uid, "room_number": r.room_number, "name": r.name,
                      "room_type": r.room_type, "nights": booked[room_uid]})
    return {
        "contract_uid": c.contract_uid, "property_uid": c.property_uid,
        "booking_number": c.booking_number, "arrival": day(c.arrival),
        "departure": day(c.departure), "nights": (c.departure - c.arrival).days,
        "status": c.status, "blackbooking": c.blackbooking, "checked_in": c.checked_in,
        "checked_out": c.checked_out, "adults": c.adults, "children": c.children,
        "guest": None if c.guest is None else guest(c.guest),
        "rooms": rooms, "currency": c.currency,
        "totals": {"contract_total": money(c.contract_total),
                   "deposit_required": money(c.deposit_required), "deposits_paid": money(paid),
                   "balance": money(c.contract_total - paid)},
        "deposits": [deposit(d) for d in sorted(c.deposits, key=lambda d: d.deposit_id)],
        "notes": [note(n) for n in sorted(c.notes, key=lambda n: n.note_id)],
        "special_requests": c.special_requests,
        "created_at": timestamp_text(c.created_at), "updated_at": timestamp_text(c.updated_at),
    }


def invoice(i: Invoice) -> dict[str, Any]:
    return add_invoice_totals({
        "invoice_uid": i.invoice_uid, "property_uid": i.property_uid,
        "contract_uid": i.contract_uid, "guest_uid": i.guest_uid, "status": i.status,
        "currency": i.currency, "due_date": day(i.due_date),
        "lines": [{"id": line.id, "description": line.description, "quantity": line.quantity,
                   "unit_price": money(line.unit_price), "tax_rate": money(line.tax_rate)}
                  for line in sorted(i.lines, key=lambda line: line.id)],
        "total": None,
        "created_at": timestamp_text(i.created_at), "updated_at": timestamp_text(i.updated_at),
    })


def property_record(p: Property) -> dict[str, Any]:
    return {
        "property_uid": p.property_uid, "name": p.name, "description": p.description,
        "street": p.street, "town": p.town, "region": p.region, "country": p.country,
        "postcode": p.postcode, "email": p.email, "telephone": p.telephone, "stars": p.stars,
        "price_from": money(p.price_from), "currency": p.currency,
        "features": p.features if isinstance(p.features, list) else [],
        "published": p.published,
        "rooms": [room(r) for r in sorted(p.rooms, key=lambda r: r.room_uid)],
        "created_at": timestamp_text(p.created_at), "updated_at": timestamp_text(p.updated_at),
    }


def tariffs(p: Property, rows: list[Any]) -> dict[str, Any]:
    return {"property_uid": p.property_uid, "tariffs": [
        {"tariff_uid": t.tariff_uid, "room_type": t.room_type, "valid_from": day(t.valid_from),
         "valid_to": day(t.valid_to), "price_per_night": money(t.price_per_night)}
        for t in sorted(rows, key=lambda t: (t.valid_from, t.tariff_uid))]}


def review(r: Review) -> dict[str, Any]:
    return {"review_uid": r.review_uid, "property_uid": r.property_uid, "reviewer": r.reviewer,
            "rating": r.rating, "title": r.title, "text": r.text, "published": r.published,
            "created_at": timestamp_text(r.created_at)}


def extra(e: Extra) -> dict[str, Any]:
    return {"extra_uid": e.extra_uid, "property_uid": e.property_uid, "name": e.name,
            "description": e.description, "price": money(e.price)}


def coupon(c: Coupon) -> dict[str, Any]:
    return {"coupon_uid": c.coupon_uid, "property_uid": c.property_uid, "code": c.code,
            "discount_percent": money(c.discount_percent), "valid_from": day(c.valid_from),
            "valid_to": day(c.valid_to)}


@pytest.fixture
def world(callbacks):
    """The demo, and one record of each kind more, some stamped on the second exactly."""
    site = callbacks.site
    with site.app.app_context(), site.kit.transaction():
        kit = site.kit
        ids = {
            "note": services.save_note(kit, 41, "on the second", created_at=ON_THE_SECOND),
            "fine_note": services.save_note(kit, 41, "a little after",
                                            created_at=ON_THE_SECOND.replace(microsecond=120)),
            "deposit": services.save_deposit(kit, 41, Decimal("0.10"), "REF",
                                             created_at=ON_THE_SECOND),
            "review": services.save_review(kit, 1, 4, reviewer="Mr Hamilton", title="Quiet",
                                           text="Very.", created_at=ON_THE_SECOND),
            "extra": services.save_extra(kit, 1, name="Breakfast", price=Decimal("7.5")),
            "coupon": services.save_coupon(kit, 1, code="SPRING", discount_percent=Decimal("10"),
                                           valid_from=date(2027, 3, 1)),
        }
        ids = {name: next(iter(record.__mapper__.primary_key_from_instance(record)))
               for name, record in ids.items()}
    return callbacks, ids


def test_every_record_the_database_builds_is_the_one_python_builds(world):
    callbacks, ids = world
    site = callbacks.site
    with site.app.app_context():
        session = site.kit.session()
        session.expire_all()
        p = session.get(Property, 1)
        expected = {
            "/webhooks/1/booking_modified/41": contract(session.get(Contract, 41), session),
            f"/webhooks/1/booking_note_saved/{ids['note']}": {
                **note(session.get(ContractNote, ids["note"])), "property_uid": 1,
                "contract": contract(session.get(Contract, 41), session)},
            f"/webhooks/1/deposit_saved/{ids['deposit']}": {
                **deposit(session.get(Deposit, ids["deposit"])), "property_uid": 1,
                "contract": contract(session.get(Contract, 41), session)},
            "/webhooks/1/guest_updated/1": guest(session.get(Guest, 1)),
            "/webhooks/1/invoice_updated/1": invoice(session.get(Invoice, 1)),
            "/webhooks/1/property_updated": property_record(p),
            "/webhooks/1/tariffs_updated": tariffs(p, list(p.tariffs) if hasattr(p, "tariffs")
                                                    else _tariffs_of(session, 1)),
            "/webhooks/1/room_updated/1": room(session.get(Room, 1)),
            f"/webhooks/1/review_saved/{ids['review']}": review(session.get(Review,
                                                                            ids["review"])),
            f"/webhooks/1/extra_saved/{ids['extra']}": extra(session.get(Extra, ids["extra"])),
            f"/webhooks/1/coupon_saved/{ids['coupon']}": coupon(session.get(Coupon,
                                                                            ids["coupon"])),
        }
        site.kit.session.remove()

    for path, record in expected.items():
        built = callbacks.record(path)
        assert list(built.items()) == list(record.items()), path  # order included

    notes = {n["note_id"]: n["created_at"]
             for n in callbacks.record("/webhooks/1/booking_modified/41")["notes"]}
    assert notes[ids["note"]] == "2026-03-01T09:30:00.000000+00:00"
    assert notes[ids["fine_note"]] == "2026-03-01T09:30:00.000120+00:00"


def _tariffs_of(session: Any, property_uid: int) -> list[Any]:
    from sqlalchemy import select

    from jomreskit.core.domain.models import Tariff

    return list(session.scalars(select(Tariff).where(Tariff.property_uid == property_uid)))
