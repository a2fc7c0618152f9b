"""Property search in SQL, one statement per page, on SQLite and PostgreSQL alike.

Availability: a room is free when it has no ``room_bookings`` row on any night from arrival to
the night before departure. ``NOT EXISTS`` on that range is one probe of the unique
``(room_uid, date)`` index per candidate room, so the cost follows the rooms that pass the other
filters, not the size of the bookings table. A property is available when its free rooms are at
least ``rooms`` (default 1) and their places add up to ``guests``: rooms are grouped per
property and the group kept by ``HAVING``. ``count(*) OVER ()`` returns the total number of
matches with the page, so one statement serves both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from jomreskit.domain import Property, Room, RoomBooking

from .criteria import Places, PropertySearch
from .models import PropertyFeature

SORT_COLUMNS = {
    "property_uid": Property.property_uid,
    "name": Property.name,
    "stars": Property.stars,
    "price": Property.price_from,
    "town": Property.town,
}

LEVELS = ("country", "region", "town")


@dataclass
class Page:
    """One page of results and the number of matches over all pages."""

    results: list[dict[str, Any]]
    total: int


def _place_conditions(places: Places) -> list[ColumnElement[bool]]:
    conditions = []
    if places.published is not None:
        conditions.append(Property.published == places.published)
    for level in LEVELS:
        value = getattr(places, level)
        if value is not None:
            conditions.append(getattr(Property, level) == value)
    return conditions


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _has_feature(feature: str) -> ColumnElement[bool]:
    """The property, or one of its rooms, lists ``feature`` (already in lower case)."""
    return Property.property_uid.in_(
        select(PropertyFeature.property_uid).where(PropertyFeature.feature == feature)
    )


def property_conditions(criteria: PropertySearch) -> list[ColumnElement[bool]]:
    """Every filter that is about the property itself (not its rooms)."""
    conditions = _place_conditions(criteria.places)
    if criteria.stars:
        conditions.append(Property.stars.in_(criteria.stars))
    if criteria.min_stars is not None:
        conditions.append(Property.stars >= criteria.min_stars)
    if criteria.min_price is not None:
        conditions.append(Property.price_from >= criteria.min_price)
    if criteria.max_price is not None:
        conditions.append(Property.price_from <= criteria.max_price)
    for word in criteria.words:
        pattern = _like(word)
        conditions.append(or_(Property.name.ilike(pattern, escape="\\"),
                              Property.description.ilike(pattern, escape="\\")))
    for feature in criteria.features:
        conditions.append(_has_feature(feature))
    return conditions


def statement(criteria: PropertySearch, bookable: Sequence[Any] = ()) -> Select[Any]:
    """One page of ``criteria``'s results: the matching properties with the total as a window
    count (and, when rooms are counted, each one's free rooms and their places). A room is free
    for the stay when it has no booking on its nights and meets the ``bookable`` conditions
    (other plugins', such as stay restrictions: ``bookable_room_conditions``).

    The matching and paging run on narrow rows (ids and the sort key); only the page's own
    properties are then read whole.
    """
    sort_column = SORT_COLUMNS[criteria.sort]
    order = [sort_column.desc() if criteria.descending else sort_column.asc()]
    if criteria.sort != "property_uid":
        order.append(Property.property_uid.asc())
    counted = [func.count().over().label("total")]
    if not criteria.needs_rooms:
        matches = select(Property.property_uid, *counted)
    else:
        free = [Room.property_uid == Property.property_uid]
        if criteria.arrival is not None:
            free.append(~exists(
                select(literal(1)).where(
                    RoomBooking.room_uid == Room.room_uid,
                    RoomBooking.date >= criteria.arrival,
                    RoomBooking.date < criteria.departure,
                )
            ))
            free.extend(bookable)
        matches = (
            select(Property.property_uid, *counted,
                   func.count(Room.room_uid).label("free_rooms"),
                   func.sum(Room.max_people).label("places"))
            .join(Room, and_(*free))
            .group_by(Property.property_uid)
            .having(func.count(Room.room_uid) >= (criteria.rooms or 1))
        )
        if criteria.guests is not None:
            matches = matches.having(func.sum(Room.max_people) >= criteria.guests)
    page = (
        matches.where(*property_conditions(criteria))
        .order_by(*order)
        .limit(criteria.per_page)
        .offset((criteria.page - 1) * criteria.per_page)
        .subquery("page")
    )
    extra = [page.c.free_rooms, page.c.places] if criteria.needs_rooms else []
    return (
        select(Property, page.c.total, *extra)
        .join(page, page.c.property_uid == Property.property_uid)
        .order_by(*order)
    )


def _money(value: Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.01")))


def result(prop: Property, row: Any) -> dict[str, Any]:
    found = {
        "property_uid": prop.property_uid,
        "name": prop.name,
        "description": prop.description,
        "town": prop.town,
        "region": prop.region,
        "country": prop.country,
        "stars": prop.stars,
        "price_from": _money(prop.price_from),
        "currency": prop.currency,
        "features": list(prop.features or []),
        "published": prop.published,
    }
    if "free_rooms" in row._fields:
        found["free_rooms"] = row.free_rooms
        found["places"] = int(row.places)
    return found


def search(session: Session, criteria: PropertySearch, bookable: Sequence[Any] = ()) -> Page:
    """One page of properties matching ``criteria`` and the number of matches in all; rooms
    offered for a stay meet the ``bookable`` conditions too."""
    rows = session.execute(statement(criteria, bookable)).all()
    if rows:
        total = rows[0].total
    elif criteria.page == 1:
        total = 0
    else:  # past the last page: the window count came back with no row to carry it
        first = replace(criteria, page=1, per_page=1)
        row = session.execute(statement(first, bookable)).first()
        total = row.total if row else 0
    return Page([result(row.Property, row) for row in rows], total)


def place_counts(session: Session, level: str, places: Places) -> list[dict[str, Any]]:
    """The distinct countries, regions (with country) or towns (with region and country) of the
    properties matching ``places``, each with its number of properties."""
    columns = [getattr(Property, name) for name in LEVELS[: LEVELS.index(level) + 1]]
    query = (
        select(*columns, func.count().label("count"))
        .where(*_place_conditions(places), getattr(Property, level) != "")
        .group_by(*columns)
        .order_by(getattr(Property, level), *columns)
    )
    return [dict(row._mapping) for row in session.execute(query)]
