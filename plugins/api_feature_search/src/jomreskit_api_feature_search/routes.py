"""The search routes: ``/search/properties`` and the distinct ``/search/countries``,
``/search/regions`` and ``/search/towns``. All read-only (other methods answer 405)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import request
from jomreskit_api_core import Api, Param

from . import criteria, query
from .criteria import Parameter

RESULT = {
    "type": "object",
    "required": ["property_uid", "name", "town", "region", "country", "stars", "price_from"],
    "properties": {
        "property_uid": {"type": "integer"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "town": {"type": "string"},
        "region": {"type": "string"},
        "country": {"type": "string"},
        "stars": {"type": "integer"},
        "price_from": {"type": "string", "description": "Decimal, e.g. \"65.00\"."},
        "currency": {"type": "string"},
        "features": {"type": "array", "items": {"type": "string"}},
        "published": {"type": "boolean"},
        "free_rooms": {"type": "integer",
                       "description": "With dates, guests or rooms: the rooms that fit."},
        "places": {"type": "integer", "description": "The people those rooms sleep."},
    },
}

SEARCH_DESCRIPTION = """\
Published properties (see `published`) matching every filter given, a page at a time, with
`meta.total` matches in all. Place filters are exact (take the values from `/search/countries`,
`/search/regions` and `/search/towns`); `features` match the property's own features or any of
its rooms'; the price range compares each property's nightly 'price from'.

Availability: with `arrival` and `departure`, a room counts when it is free every night from
arrival to the night before departure; a property matches when at least `rooms` (default 1) of
its rooms count and they sleep at least `guests` people together. `guests` or `rooms` without
dates count every room.

A filter this endpoint does not know, or a value that does not fit, answers 422 with the
filter's name in the code (`unknown_filter`, `invalid_<name>`)."""


def _params(parameters: Sequence[Parameter]) -> list[Param]:
    return [
        Param(p.name, type=p.type, description=p.description, minimum=p.minimum,
              maximum=p.maximum, format=p.format, example=p.example, items=p.items)
        for p in parameters
    ]


def _place_list(level: str) -> dict[str, Any]:
    columns = query.LEVELS[: query.LEVELS.index(level) + 1]
    return {
        "type": "array",
        "items": {"type": "object", "required": [*columns, "count"], "properties": {
            **{c: {"type": "string"} for c in columns},
            "count": {"type": "integer", "description": "Properties there."},
        }},
    }


def register(api: Api, scope: str) -> None:
    """Add the search routes."""

    @api.route("/search/properties", scope=scope, summary="Search properties",
               description=SEARCH_DESCRIPTION, params=_params(criteria.PARAMETERS),
               response={"type": "array", "items": RESULT}, tags=("search",))
    def search_properties() -> Any:
        wanted = criteria.property_search(request.args)
        bookable = () if wanted.arrival is None else api.kit.hooks.bookable_room_conditions(
            arrival=wanted.arrival, departure=wanted.departure)
        page = query.search(api.kit.session(), wanted, bookable)
        pages = -(-page.total // wanted.per_page)
        sort = ("-" if wanted.descending else "") + wanted.sort
        return page.results, {"page": wanted.page, "per_page": wanted.per_page,
                              "total": page.total, "pages": pages, "sort": sort}

    lists = {
        "countries": ("country", (criteria.PUBLISHED,)),
        "regions": ("region", (criteria.PLACE[0], criteria.PUBLISHED)),
        "towns": ("town", (*criteria.PLACE[:2], criteria.PUBLISHED)),
    }
    for path, (level, parameters) in lists.items():
        _add_place_list(api, scope, path, level, parameters)


def _add_place_list(api: Api, scope: str, path: str, level: str,
                    parameters: Sequence[Parameter]) -> None:
    within = {"region": " (of a country)", "town": " (of a country or region)"}.get(level, "")

    def place_list() -> Any:
        places = criteria.places(request.args, parameters)
        found = query.place_counts(api.kit.session(), level, places)
        return found, {"total": len(found)}

    place_list.__name__ = f"search_{path}"
    api.add_route(f"/search/{path}", place_list, scope=scope,
                  summary=f"The {path} of the properties, with counts",
                  description=f"Every {level}{within} with at least one matching property, and "
                              "how many there are: what a remote service builds a search form "
                              "from. Unknown filters answer 422.",
                  params=_params(parameters), response=_place_list(level),
                  tags=("search",))
