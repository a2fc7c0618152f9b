"""Made-up properties, rooms and bookings in bulk, to measure and test search at scale.

``generate`` writes straight into the tables (bulk INSERTs, no services, so no events and no
webhook deliveries): it is for benchmarks and tests, never for a live site. The same ``seed``
always gives the same data.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from jomreskit.domain import Contract, Property, Room, RoomBooking

from . import features

PLACES = {
    "GB": {"Devon": ["Torquay", "Exeter", "Plymouth", "Paignton"],
           "Greater London": ["London", "Richmond", "Croydon"],
           "Cornwall": ["Newquay", "St Ives", "Falmouth", "Padstow"]},
    "FR": {"Bretagne": ["Rennes", "Brest", "Saint-Malo"],
           "Provence": ["Marseille", "Nice", "Avignon", "Arles"],
           "Normandie": ["Rouen", "Caen", "Deauville"]},
    "ES": {"Andalucia": ["Sevilla", "Malaga", "Granada", "Cordoba"],
           "Cataluna": ["Barcelona", "Girona", "Sitges"]},
    "IT": {"Toscana": ["Firenze", "Pisa", "Siena", "Lucca"],
           "Veneto": ["Venezia", "Verona", "Padova"], "Lazio": ["Roma", "Ostia"]},
    "DE": {"Bayern": ["Munchen", "Nurnberg", "Regensburg"],
           "Berlin": ["Berlin"], "Hamburg": ["Hamburg"]},
    "PT": {"Algarve": ["Faro", "Lagos", "Albufeira"], "Lisboa": ["Lisboa", "Sintra", "Cascais"]},
    "GR": {"Crete": ["Heraklion", "Chania"], "Attica": ["Athens", "Piraeus"]},
    "NL": {"Noord-Holland": ["Amsterdam", "Haarlem"], "Zuid-Holland": ["Den Haag", "Leiden"]},
}

FEATURES = ("wifi", "parking", "pool", "gym", "spa", "sea view", "restaurant", "bar",
            "pets allowed", "garden", "air conditioning", "breakfast")
ROOM_FEATURES = ("wifi", "sea view", "balcony", "bath", "desk", "air conditioning")
ROOM_TYPES = {"Single": 1, "Double": 2, "Twin": 2, "Family": 4, "Suite": 3, "Dormitory": 6}
NAME_WORDS = ("Grand", "Royal", "Old", "Blue", "Harbour", "Garden", "Castle", "River", "Hill",
              "Sunset", "Golden", "Little", "Park", "Bay", "Station", "Market")
KINDS = ("Hotel", "Inn", "Guest House", "Lodge", "Apartments", "Villa", "Hostel", "Cottages")
DESCRIPTION_WORDS = ("quiet", "central", "family-run", "modern", "historic", "seaside",
                     "charming", "spacious", "renovated", "rustic", "elegant", "friendly",
                     "cosy", "bright", "traditional", "boutique")


@dataclass
class Generated:
    """What ``generate`` wrote: counts, and the first day of the booked period."""

    properties: int
    rooms: int
    contracts: int
    room_nights: int
    start: date
    days: int


def _batches(rows: list[dict[str, Any]], size: int = 5000) -> Iterator[list[dict[str, Any]]]:
    for at in range(0, len(rows), size):
        yield rows[at:at + size]


def _next_id(session: Session, column: Any) -> int:
    return (session.scalar(select(func.max(column))) or 0) + 1


def generate(
    session: Session,
    properties: int = 10_000,
    room_nights: int = 200_000,
    start: date | None = None,
    days: int = 60,
    seed: int = 1,
) -> Generated:
    """Add ``properties`` properties (1 to 8 rooms each) and bookings taking ``room_nights``
    room-nights within ``days`` days from ``start``, in the caller's transaction."""
    rng = random.Random(seed)
    start = start or date.today() + timedelta(days=30)
    first_property = _next_id(session, Property.property_uid)
    first_room = _next_id(session, Room.room_uid)
    first_contract = _next_id(session, Contract.contract_uid)

    property_rows, room_rows = [], []
    for property_uid in range(first_property, first_property + properties):
        country = rng.choice(sorted(PLACES))
        region = rng.choice(sorted(PLACES[country]))
        stars = rng.choice((0, 1, 2, 2, 3, 3, 3, 4, 4, 5))
        price = Decimal(rng.randint(30 + stars * 20, 80 + stars * 50))
        words = rng.sample(DESCRIPTION_WORDS, 3)
        property_rows.append({
            "property_uid": property_uid,
            "name": f"{rng.choice(NAME_WORDS)} {rng.choice(NAME_WORDS)} {rng.choice(KINDS)}",
            "description": f"A {words[0]}, {words[1]} place; {words[2]} rooms.",
            "town": rng.choice(PLACES[country][region]),
            "region": region,
            "country": country,
            "stars": stars,
            "price_from": price,
            "currency": "EUR",
            "features": rng.sample(FEATURES, rng.randint(0, 4)),
            "published": rng.random() < 0.9,
        })
        for number in range(1, rng.randint(1, 8) + 1):
            room_type = rng.choice(sorted(ROOM_TYPES))
            room_rows.append({
                "room_uid": first_room + len(room_rows),
                "property_uid": property_uid,
                "room_number": str(number),
                "name": f"{room_type} {number}",
                "room_type": room_type,
                "max_people": ROOM_TYPES[room_type],
                "price_per_night": price + rng.randint(0, 40),
                "features": rng.sample(ROOM_FEATURES, rng.randint(0, 2)),
            })

    # Book stays of 1 to 7 nights on random rooms until the room-nights are taken; a stay
    # that would share a night with another on the same room is moved or cut short.
    if room_nights > len(room_rows) * days // 2:
        raise ValueError(f"{room_nights} room-nights is over half of what {len(room_rows)} rooms "
                         f"offer in {days} days; ask for fewer or give more days")
    taken: set[tuple[int, int]] = set()
    contract_rows, night_rows = [], []
    while len(night_rows) < room_nights:
        room = rng.choice(room_rows)
        first = rng.randrange(days)
        nights = [d for d in range(first, min(days, first + rng.randint(1, 7)))
                  if (room["room_uid"], d) not in taken]
        nights = nights[: room_nights - len(night_rows)]
        if not nights or nights != list(range(nights[0], nights[0] + len(nights))):
            continue
        contract_uid = first_contract + len(contract_rows)
        arrival = start + timedelta(days=nights[0])
        contract_rows.append({
            "contract_uid": contract_uid,
            "property_uid": room["property_uid"],
            "booking_number": f"GEN-{contract_uid}",
            "arrival": arrival,
            "departure": arrival + timedelta(days=len(nights)),
            "adults": min(2, room["max_people"]),
            "contract_total": room["price_per_night"] * len(nights),
        })
        for night in nights:
            taken.add((room["room_uid"], night))
            night_rows.append({"contract_uid": contract_uid, "property_uid": room["property_uid"],
                               "room_uid": room["room_uid"], "date": start + timedelta(night)})

    for model, rows in ((Property, property_rows), (Room, room_rows),
                        (Contract, contract_rows), (RoomBooking, night_rows)):
        for batch in _batches(rows):
            session.execute(insert(model), batch)
    _advance_sequences(session)
    features.reindex(session)
    return Generated(len(property_rows), len(room_rows), len(contract_rows), len(night_rows),
                     start, days)


def _advance_sequences(session: Session) -> None:
    """Rows written with explicit ids leave PostgreSQL's sequences behind; move them past."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table, column in (("properties", "property_uid"), ("rooms", "room_uid"),
                          ("contracts", "contract_uid")):
        session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
            f"GREATEST((SELECT MAX({column}) FROM {table}), 1))"
        ))
