"""The filters of a property search, read and checked from a request's query string.

One table (``PARAMETERS``) says what each filter is; it drives both the parsing here and the
OpenAPI description of the routes, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from jomreskit import ValidationError

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
MAX_NIGHTS = 365
MAX_GUESTS = 100
MAX_ROOMS = 50
MAX_TEXT = 100
MAX_FEATURES = 10
STARS = range(0, 6)

SORTS = ("property_uid", "name", "stars", "price", "town")

# Query parameters api_core itself may see on any request; never taken for a misspelt filter.
IGNORED = frozenset({"access_token"})


@dataclass(frozen=True)
class Parameter:
    """One query parameter: its name, what it does, and its OpenAPI type and bounds."""

    name: str
    type: str
    description: str
    minimum: int | None = None
    maximum: int | None = None
    format: str | None = None
    example: Any = None
    items: str = "string"  # the type of an array's items


PUBLISHED = Parameter(
    "published", "string",
    "`true` (the default): published properties only; `false`: unpublished only; `any`: both.",
    example="true",
)

PLACE = (
    Parameter("country", "string", "Two-letter country code.", example="GB"),
    Parameter("region", "string", "Region, exactly as `/search/regions` lists it.",
              example="Devon"),
    Parameter("town", "string", "Town, exactly as `/search/towns` lists it.", example="Torquay"),
)

PARAMETERS: tuple[Parameter, ...] = (
    *PLACE,
    Parameter("stars", "array", "Star ratings to accept, 0 to 5: `4,5` or repeated.",
              example=[2, 3], items="integer"),
    Parameter("min_stars", "integer", "At least this many stars.", 0, 5),
    Parameter("min_price", "number", "Lowest acceptable nightly 'price from' of a property.", 0),
    Parameter("max_price", "number", "Highest acceptable nightly 'price from' of a property.", 0),
    Parameter("features", "array",
              "Features every result offers, on the property or one of its rooms, "
              "case-insensitive: `wifi,parking` or repeated.", example=["sea view"]),
    Parameter("q", "string", "Words that must each appear in the name or description.",
              example="family"),
    Parameter("arrival", "string", "Arrival date; needs `departure`.", format="date"),
    Parameter("departure", "string",
              f"Departure date, after arrival, at most {MAX_NIGHTS} nights later. With dates, a "
              "property matches when enough of its rooms are free every night in between.",
              format="date"),
    Parameter("guests", "integer",
              "People to sleep: the places of the (free) rooms must add up to at least this.",
              1, MAX_GUESTS),
    Parameter("rooms", "integer", "Rooms wanted (default 1 when dates or guests are given).",
              1, MAX_ROOMS),
    PUBLISHED,
    Parameter("sort", "string",
              f"One of {', '.join(SORTS)}; `-` in front for descending. Default property_uid.",
              example="-stars"),
    Parameter("page", "integer", "Page number.", 1),
    Parameter("per_page", "integer", f"Results per page (default {DEFAULT_PER_PAGE}).", 1,
              MAX_PER_PAGE),
)


@dataclass(frozen=True)
class Places:
    """Filters shared by the search and the distinct-place lists."""

    country: str | None = None
    region: str | None = None
    town: str | None = None
    published: bool | None = True


@dataclass(frozen=True)
class PropertySearch:
    """A checked property search."""

    places: Places = Places()
    stars: tuple[int, ...] = ()
    min_stars: int | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    features: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    arrival: date | None = None
    departure: date | None = None
    guests: int | None = None
    rooms: int | None = None
    sort: str = "property_uid"
    descending: bool = False
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def needs_rooms(self) -> bool:
        """True when the search counts rooms: dates, guests or a number of rooms."""
        return self.arrival is not None or self.guests is not None or self.rooms is not None


def _values(args: Mapping[str, Any], name: str) -> list[str]:
    getlist = getattr(args, "getlist", None)
    raw = getlist(name) if getlist else ([args.get(name)] if name in args else [])
    return [part.strip() for value in raw for part in str(value).split(",") if part.strip()]


def _one(args: Mapping[str, Any], name: str) -> str | None:
    getlist = getattr(args, "getlist", None)
    value = (getlist(name) or [None])[-1] if getlist else args.get(name)  # the last one counts
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        raise ValidationError(f"{name} is empty", code=f"invalid_{name}")
    if len(value) > MAX_TEXT:
        raise ValidationError(f"{name} is longer than {MAX_TEXT} characters",
                              code=f"invalid_{name}")
    return value


def _int(args: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = _one(args, name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise ValidationError(f"{name} must be a whole number, not {value!r}",
                              code=f"invalid_{name}") from None
    if not low <= number <= high:
        raise ValidationError(f"{name} must be from {low} to {high}, not {number}",
                              code=f"invalid_{name}")
    return number


def _price(args: Mapping[str, Any], name: str) -> Decimal | None:
    value = _one(args, name)
    if value is None:
        return None
    try:
        price = Decimal(value)
    except InvalidOperation:
        price = Decimal("NaN")
    if not price.is_finite() or price < 0 or price >= Decimal("1e10"):
        raise ValidationError(f"{name} must be a price such as 80 or 79.50, not {value!r}",
                              code=f"invalid_{name}")
    return price


def _date(args: Mapping[str, Any], name: str) -> date | None:
    value = _one(args, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{name} must be a date as YYYY-MM-DD, not {value!r}",
                              code=f"invalid_{name}") from None


def _published(args: Mapping[str, Any]) -> bool | None:
    value = (_one(args, "published") or "true").lower()
    choices = {"true": True, "1": True, "false": False, "0": False, "any": None}
    if value not in choices:
        raise ValidationError("published must be true, false or any", code="invalid_published")
    return choices[value]


def refuse_unknown(args: Mapping[str, Any], known: Sequence[Parameter]) -> None:
    """A misspelt filter is an error, not a silently wider search."""
    names = {p.name for p in known} | IGNORED
    unknown = sorted(name for name in args if name not in names)
    if unknown:
        raise ValidationError(
            f"unknown filter {', '.join(unknown)}; known: {', '.join(p.name for p in known)}",
            code="unknown_filter",
        )


def places(args: Mapping[str, Any], known: Sequence[Parameter] = (*PLACE, PUBLISHED)) -> Places:
    """The place filters of a distinct-place list (or of a search)."""
    refuse_unknown(args, known)
    country = _one(args, "country")
    if country is not None and (len(country) != 2 or not country.isalpha()):
        raise ValidationError(f"country must be a two-letter code such as GB, not {country!r}",
                              code="invalid_country")
    return Places(
        country=country.upper() if country else None,
        region=_one(args, "region"),
        town=_one(args, "town"),
        published=_published(args),
    )


def property_search(args: Mapping[str, Any]) -> PropertySearch:
    """Read and check a property search; ValidationError (a 422) names the bad filter."""
    where = places(args, PARAMETERS)
    stars = []
    for value in _values(args, "stars"):
        if not value.isdigit() or int(value) not in STARS:
            raise ValidationError(f"stars must be whole numbers from 0 to 5, not {value!r}",
                                  code="invalid_stars")
        stars.append(int(value))
    min_price, max_price = _price(args, "min_price"), _price(args, "max_price")
    if min_price is not None and max_price is not None and min_price > max_price:
        raise ValidationError("min_price is above max_price", code="invalid_price_range")
    features = tuple(dict.fromkeys(f.lower() for f in _values(args, "features")))
    if len(features) > MAX_FEATURES or any(len(f) > MAX_TEXT for f in features):
        raise ValidationError(f"at most {MAX_FEATURES} features of up to {MAX_TEXT} characters",
                              code="invalid_features")
    text = _one(args, "q")
    words = tuple(dict.fromkeys(text.lower().split())) if text else ()
    arrival, departure = _date(args, "arrival"), _date(args, "departure")
    if (arrival is None) != (departure is None):
        raise ValidationError("arrival and departure go together", code="invalid_dates")
    if arrival is not None and departure is not None:
        nights = (departure - arrival).days
        if nights < 1:
            raise ValidationError("departure must be after arrival", code="invalid_dates")
        if nights > MAX_NIGHTS:
            raise ValidationError(f"a stay is at most {MAX_NIGHTS} nights", code="invalid_dates")
    sort = _one(args, "sort") or "property_uid"
    if sort.removeprefix("-") not in SORTS:
        raise ValidationError(f"sort must be one of {', '.join(SORTS)} (- for descending)",
                              code="invalid_sort")
    return PropertySearch(
        places=where,
        stars=tuple(sorted(set(stars))),
        min_stars=_int(args, "min_stars", 0, 5),
        min_price=min_price,
        max_price=max_price,
        features=features,
        words=words,
        arrival=arrival,
        departure=departure,
        guests=_int(args, "guests", 1, MAX_GUESTS),
        rooms=_int(args, "rooms", 1, MAX_ROOMS),
        sort=sort.removeprefix("-"),
        descending=sort.startswith("-"),
        page=_int(args, "page", 1, 1_000_000) or 1,
        per_page=_int(args, "per_page", 1, MAX_PER_PAGE) or DEFAULT_PER_PAGE,
    )
