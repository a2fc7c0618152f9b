"""The demo data set: Fawlty Towers and Best West Hotel, their managers, rooms, guests and bookings.

Seeding is idempotent: each record has a fixed id and is created only when missing, so the
ids the case study uses (property 1, contract 41...) are the same on every site.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text

from . import services
from .models import (
    Contract,
    Coupon,
    Extra,
    Guest,
    Invoice,
    Property,
    Review,
    Room,
    User,
)

if TYPE_CHECKING:
    from ..kit import Kit

# Demo passwords equal the usernames: this data set exists to be tried out, never for a live site.
USERS = [
    {
        "username": "manager",
        "role": "manager",
        "email": "basil@fawltytowers.example",
        "properties": [1, 2],
    },
    {"username": "manager2", "role": "manager", "email": "sybil@example.com", "properties": []},
    {"username": "super", "role": "super", "email": "admin@example.com", "properties": []},
]

PROPERTIES = [
    {
        "property_uid": 1,
        "name": "Fawlty Towers",
        "town": "Torquay",
        "region": "Devon",
        "country": "GB",
        "street": "16 Elmdon Road",
        "postcode": "TQ2 5AB",
        "stars": 2,
        "price_from": Decimal("65.00"),
        "currency": "GBP",
        "published": True,
        "email": "basil@fawltytowers.example",
        "features": ["sea view", "restaurant", "bar"],
        "description": (
            "A small family-run hotel on the English Riviera. Gourmet nights on Fridays."
        ),
    },
    {
        "property_uid": 2,
        "name": "Best West Hotel",
        "town": "London",
        "region": "Greater London",
        "country": "GB",
        "street": "1 Western Avenue",
        "postcode": "W3 7AA",
        "stars": 4,
        "price_from": Decimal("120.00"),
        "currency": "GBP",
        "published": True,
        "features": ["wifi", "parking", "gym"],
        "description": "A business hotel close to the city, with meeting rooms and a gym.",
    },
]

ROOMS = [
    {
        "room_uid": 1,
        "property_uid": 1,
        "room_number": "1",
        "name": "Sea view double",
        "room_type": "Double",
        "max_people": 2,
        "price_per_night": Decimal("75.00"),
        "features": ["sea view"],
    },
    {
        "room_uid": 2,
        "property_uid": 1,
        "room_number": "2",
        "name": "Garden twin",
        "room_type": "Twin",
        "max_people": 2,
        "price_per_night": Decimal("65.00"),
    },
    {
        "room_uid": 3,
        "property_uid": 1,
        "room_number": "3",
        "name": "Family room",
        "room_type": "Family",
        "max_people": 4,
        "price_per_night": Decimal("95.00"),
    },
    {
        "room_uid": 4,
        "property_uid": 2,
        "room_number": "101",
        "name": "Executive king",
        "room_type": "King",
        "max_people": 2,
        "price_per_night": Decimal("150.00"),
        "features": ["wifi", "desk"],
    },
    {
        "room_uid": 5,
        "property_uid": 2,
        "room_number": "102",
        "name": "Standard double",
        "room_type": "Double",
        "max_people": 2,
        "price_per_night": Decimal("120.00"),
        "features": ["wifi"],
    },
]

GUESTS = [
    {
        "guest_uid": 1,
        "property_uid": 1,
        "firstname": "Agatha",
        "surname": "Richards",
        "email": "mrs.richards@example.com",
        "telephone": "+44 1803 000001",
        "town": "Bristol",
        "country": "GB",
    },
    {
        "guest_uid": 2,
        "property_uid": 2,
        "firstname": "James",
        "surname": "Hamilton",
        "email": "j.hamilton@example.com",
        "telephone": "+1 555 0100",
        "town": "Boston",
        "country": "US",
    },
]

# Dates are set from the day the demo is seeded so the bookings are always in the future.
CONTRACTS = [
    {
        "contract_uid": 41,
        "property_uid": 1,
        "guest_uid": 1,
        "rooms": [1],
        "starts_in": 14,
        "nights": 3,
        "adults": 2,
        "contract_total": Decimal("225.00"),
        "deposit_required": Decimal("50.00"),
        "currency": "GBP",
        "special_requests": "A room with a view of Torquay, and of the sea.",
    },
    {
        "contract_uid": 42,
        "property_uid": 2,
        "guest_uid": 2,
        "rooms": [4],
        "starts_in": 30,
        "nights": 2,
        "adults": 1,
        "contract_total": Decimal("300.00"),
        "deposit_required": Decimal("0.00"),
        "currency": "GBP",
    },
]

INVOICES = [
    {
        "invoice_uid": 1,
        "property_uid": 1,
        "contract_uid": 41,
        "guest_uid": 1,
        "currency": "GBP",
        "lines": [
            {
                "description": "Sea view double, 3 nights",
                "quantity": 3,
                "unit_price": "75.00",
                "tax_rate": Decimal("20"),
            }
        ],
    },
    {
        "invoice_uid": 2,
        "property_uid": 2,
        "contract_uid": 42,
        "guest_uid": 2,
        "currency": "GBP",
        "lines": [
            {
                "description": "Executive king, 2 nights",
                "quantity": 2,
                "unit_price": "150.00",
                "tax_rate": Decimal("20"),
            }
        ],
    },
]

REVIEWS = [
    {
        "review_uid": 1,
        "property_uid": 1,
        "rating": 3,
        "reviewer": "Mr Hamilton",
        "title": "Memorable",
        "text": "The Waldorf salad never came.",
        "published": True,
    },
]

EXTRAS = [
    {
        "extra_uid": 1,
        "property_uid": 1,
        "name": "Full English breakfast",
        "price": Decimal("12.50"),
    },
]

COUPONS = [
    {"coupon_uid": 1, "property_uid": 1, "code": "GOURMET10", "discount_percent": Decimal("10")},
]


def seed(kit: Kit) -> dict[str, list[dict[str, Any]]]:
    """Create what is missing of the demo data (in the caller's transaction); return every id."""
    session = kit.session()
    today = date.today()
    for prop in PROPERTIES:
        if session.get(Property, prop["property_uid"]) is None:
            services.create_property(kit, **prop)
    for room in ROOMS:
        if session.get(Room, room["room_uid"]) is None:
            services.add_room(kit, **room)
    for user in USERS:
        if session.scalar(select(User).where(User.username == user["username"])) is None:
            services.create_user(
                kit,
                user["username"],
                role=user["role"],
                email=user["email"],
                password=user["username"],
                property_uids=user["properties"],
            )
    for guest in GUESTS:
        if session.get(Guest, guest["guest_uid"]) is None:
            services.save_guest(kit, **guest)
    for spec in CONTRACTS:
        if session.get(Contract, spec["contract_uid"]) is None:
            fields = {k: v for k, v in spec.items() if k not in ("rooms", "starts_in", "nights")}
            arrival = today + timedelta(days=spec["starts_in"])
            contract = services.add_booking(
                kit,
                arrival=arrival,
                departure=arrival + timedelta(days=spec["nights"]),
                room_uids=spec["rooms"],
                **fields,
            )
            if contract.contract_uid == 41:
                services.save_note(kit, 41, "Guest is hard of hearing; speak up.")
                services.save_deposit(kit, 41, Decimal("50.00"), reference="DEMO-DEP-41")
    for invoice in INVOICES:
        if session.get(Invoice, invoice["invoice_uid"]) is None:
            services.create_invoice(kit, **invoice)
    for review in REVIEWS:
        if session.get(Review, review["review_uid"]) is None:
            services.save_review(kit, **review)
    for extra in EXTRAS:
        if session.get(Extra, extra["extra_uid"]) is None:
            services.save_extra(kit, **extra)
    for coupon in COUPONS:
        if session.get(Coupon, coupon["coupon_uid"]) is None:
            services.save_coupon(kit, **coupon)
    _advance_sequences(kit)
    return summary(kit)


def _advance_sequences(kit: Kit) -> None:
    """Rows inserted with explicit ids leave PostgreSQL's sequences behind; move them past."""
    session = kit.session()
    if session.get_bind().dialect.name != "postgresql":
        return
    for model in (Property, Room, Guest, Contract, Invoice, Review, Extra, Coupon):
        table = model.__table__
        column = next(iter(table.primary_key.columns)).name
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column}'), "
                f"GREATEST((SELECT MAX({column}) FROM {table.name}), 1))"
            )
        )


def summary(kit: Kit) -> dict[str, list[dict[str, Any]]]:
    """The demo data's ids, one list per kind."""
    session = kit.session()
    users = session.scalars(
        select(User)
        .where(User.username.in_([u["username"] for u in USERS]))
        .order_by(User.manager_id)
    )
    return {
        "properties": [
            {"property_uid": p.property_uid, "name": p.name}
            for p in (session.get(Property, d["property_uid"]) for d in PROPERTIES)
            if p
        ],
        "users": [
            {
                "manager_id": u.manager_id,
                "username": u.username,
                "role": u.role,
                "property_uids": [p.property_uid for p in u.properties],
            }
            for u in users
        ],
        "rooms": [{"room_uid": d["room_uid"], "property_uid": d["property_uid"]} for d in ROOMS],
        "guests": [
            {"guest_uid": d["guest_uid"], "property_uid": d["property_uid"]} for d in GUESTS
        ],
        "contracts": [
            {
                "contract_uid": c.contract_uid,
                "property_uid": c.property_uid,
                "guest_uid": c.guest_uid,
                "arrival": c.arrival.isoformat(),
                "departure": c.departure.isoformat(),
                "note_ids": [n.note_id for n in c.notes],
                "deposit_ids": [d.deposit_id for d in c.deposits],
            }
            for c in (session.get(Contract, d["contract_uid"]) for d in CONTRACTS)
            if c
        ],
        "invoices": [
            {"invoice_uid": d["invoice_uid"], "property_uid": d["property_uid"]} for d in INVOICES
        ],
        "reviews": [
            {"review_uid": d["review_uid"], "property_uid": d["property_uid"]} for d in REVIEWS
        ],
        "extras": [
            {"extra_uid": d["extra_uid"], "property_uid": d["property_uid"]} for d in EXTRAS
        ],
        "coupons": [
            {"coupon_uid": d["coupon_uid"], "property_uid": d["property_uid"]} for d in COUPONS
        ],
    }
