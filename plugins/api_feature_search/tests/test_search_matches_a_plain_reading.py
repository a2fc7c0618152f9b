"""The SQL search finds exactly what a plain reading of its rules finds, for many random
searches over generated data, on SQLite and PostgreSQL.

The plain reading: a property matches when it is published, in the place asked, has the stars
and 'price from' asked, offers every feature (itself or in a room), has every word in its name
or description, and, when dates, guests or rooms are asked, has at least ``rooms`` rooms free on
every night of the stay that sleep ``guests`` together.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from jomreskit_api_feature_search import criteria, query, sample
from jomreskit_api_feature_search.features import normalise
from sqlalchemy import select

from jomreskit.domain import Property, Room, RoomBooking


def plain_reading(properties, rooms, booked, search: criteria.PropertySearch) -> list[int]:
    """The uids of the matching properties, in the order asked, by looping in Python."""
    found = []
    for prop in properties:
        place = search.places
        if place.published is not None and prop.published != place.published:
            continue
        if any(getattr(place, level) not in (None, getattr(prop, level))
               for level in ("country", "region", "town")):
            continue
        if search.stars and prop.stars not in search.stars:
            continue
        if search.min_stars is not None and prop.stars < search.min_stars:
            continue
        if search.min_price is not None and prop.price_from < search.min_price:
            continue
        if search.max_price is not None and prop.price_from > search.max_price:
            continue
        its_rooms = rooms.get(prop.property_uid, [])
        offered = normalise(prop.features).union(*(normalise(r.features) for r in its_rooms))
        if not set(search.features) <= offered:
            continue
        text = f"{prop.name} {prop.description}".lower()
        if not all(word in text for word in search.words):
            continue
        if search.needs_rooms:
            free = its_rooms
            if search.arrival is not None:
                nights = {search.arrival + timedelta(n)
                          for n in range((search.departure - search.arrival).days)}
                free = [r for r in its_rooms if not nights & booked.get(r.room_uid, set())]
            if len(free) < (search.rooms or 1):
                continue
            if search.guests is not None and sum(r.max_people for r in free) < search.guests:
                continue
        found.append(prop)
    key = {"property_uid": lambda p: p.property_uid, "name": lambda p: p.name,
           "stars": lambda p: p.stars, "price": lambda p: p.price_from,
           "town": lambda p: p.town}[search.sort]
    found.sort(key=lambda p: p.property_uid)
    found.sort(key=key, reverse=search.descending)  # stable: ties keep ascending uids
    return [p.property_uid for p in found]


def random_filters(rng: random.Random, start: date, days: int) -> dict[str, str]:
    """Two to five filters picked at random from every kind the search takes."""
    country = rng.choice(sorted(sample.PLACES))
    region = rng.choice(sorted(sample.PLACES[country]))
    arrival = start + timedelta(rng.randrange(-2, days))
    choices: dict[str, Any] = {
        "country": country,
        "region": region,
        "town": rng.choice(sample.PLACES[country][region]),
        "stars": ",".join(str(s) for s in rng.sample(range(6), rng.randint(1, 3))),
        "min_stars": str(rng.randint(0, 5)),
        "min_price": str(rng.randint(30, 200)),
        "max_price": str(rng.randint(80, 400)),
        "features": ",".join(rng.sample(sample.FEATURES + sample.ROOM_FEATURES,
                                        rng.randint(1, 2))),
        "q": rng.choice(sample.DESCRIPTION_WORDS + tuple(w.lower() for w in sample.KINDS)),
        "dates": (arrival.isoformat(), (arrival + timedelta(rng.randint(1, 6))).isoformat()),
        "guests": str(rng.randint(1, 12)),
        "rooms": str(rng.randint(1, 4)),
        "published": rng.choice(["true", "false", "any"]),
        "sort": rng.choice(["property_uid", "name", "-stars", "price", "-price", "town"]),
    }
    filters: dict[str, str] = {}
    for name in rng.sample(sorted(choices), rng.randint(2, 5)):
        if name == "dates":
            filters["arrival"], filters["departure"] = choices["dates"]
        else:
            filters[name] = choices[name]
    if Decimal(filters.get("min_price", 0)) > Decimal(filters.get("max_price", 10**6)):
        del filters["min_price"]
    return filters


def test_random_searches_find_what_the_plain_reading_finds(make_site):
    site = make_site()
    with site.app.app_context(), site.kit.transaction() as session:
        made = sample.generate(session, properties=300, room_nights=3000, days=20, seed=7)
    assert (made.properties, made.room_nights) == (300, 3000)
    rng = random.Random(11)
    with site.app.app_context():
        session = site.kit.session()
        properties = session.scalars(select(Property).order_by(Property.property_uid)).all()
        rooms: dict[int, list[Room]] = {}
        for room in session.scalars(select(Room)):
            rooms.setdefault(room.property_uid, []).append(room)
        booked: dict[int, set[date]] = {}
        for room_uid, night in session.execute(select(RoomBooking.room_uid, RoomBooking.date)):
            booked.setdefault(room_uid, set()).add(night)

        matched_some = 0
        for _ in range(150):
            filters = random_filters(rng, made.start, made.days)
            search = criteria.property_search({**filters, "per_page": "100"})
            expected = plain_reading(properties, rooms, booked, search)
            page = query.search(session, search)
            assert [r["property_uid"] for r in page.results] == expected[:100], filters
            assert page.total == len(expected), filters
            matched_some += bool(expected)
    assert matched_some > 30  # the random searches are not all empty
