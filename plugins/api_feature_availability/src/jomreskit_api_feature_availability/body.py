"""Reading a write's JSON body: each member checked and typed, or 422 naming the member.

Every refusal is ``ApiError(422, "invalid_<member>", "<member>: why", field="<member>")``, so a
client knows which member to fix; a member the route does not know is refused too (a misspelt
one would otherwise be ignored without a word).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from jomreskit_api_core import ApiError, current_json

MAX_ID = 2**31 - 1
MAX_NIGHTS = 366  # a year of nights at most in one write or read
MAX_MONEY = Decimal("9999999999.99")  # Numeric(12, 2)
CENT = Decimal("0.01")


def invalid(member: str, why: str) -> ApiError:
    return ApiError(422, f"invalid_{member}", f"{member}: {why}", field=member)


def json_object(known: Iterable[str]) -> dict[str, Any]:
    """The request's JSON object (api_core's ``current_json``), holding no member outside
    ``known``."""
    body = current_json()
    known = set(known)
    for member in body:
        if member not in known:
            raise invalid(str(member)[:40], f"unknown member; known: {', '.join(sorted(known))}")
    return body


def a_date(body: Mapping[str, Any], member: str, required: bool = True) -> date | None:
    value = body.get(member)
    if value is None:
        if required:
            raise invalid(member, "is required (YYYY-MM-DD)")
        return None
    if not isinstance(value, str):
        raise invalid(member, "must be a date text, YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(member, f"{value[:40]!r} is not a date (YYYY-MM-DD)") from None


def an_id(body: Mapping[str, Any], member: str, required: bool = True) -> int | None:
    value = body.get(member)
    if value is None:
        if required:
            raise invalid(member, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise invalid(member, "must be a whole number from 1")
    return value


def ids(body: Mapping[str, Any], member: str, required: bool = True) -> list[int] | None:
    value = body.get(member)
    if value is None:
        if required:
            raise invalid(member, "is required: a list of ids")
        return None
    if not isinstance(value, list) or not value or len(value) > 1000:
        raise invalid(member, "must be a list of 1 to 1000 ids")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 < item <= MAX_ID:
            raise invalid(member, f"{str(item)[:40]!r} is not an id")
    return list(dict.fromkeys(value))


def money(body: Mapping[str, Any], member: str, required: bool = True) -> Decimal | None:
    """An amount as a JSON number or a decimal text ("75.00"), at least 0, to the cent."""
    value = body.get(member)
    if value is None:
        if required:
            raise invalid(member, 'is required: an amount such as "75.00"')
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid(member, 'must be an amount such as "75.00"')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise invalid(member, f"{str(value)[:40]!r} is not an amount") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_MONEY:
        raise invalid(member, f"must be from 0 to {MAX_MONEY}")
    if amount != amount.quantize(CENT):
        raise invalid(member, "has more than two decimals")
    return amount.quantize(CENT)


def text(body: Mapping[str, Any], member: str, max_length: int,
         required: bool = False) -> str | None:
    value = body.get(member)
    if value is None:
        if required:
            raise invalid(member, "is required")
        return None
    if not isinstance(value, str) or "\x00" in value or len(value) > max_length:
        raise invalid(member, f"must be a text of at most {max_length} characters")
    if required and not value.strip():
        raise invalid(member, "must not be empty")
    return value


def nights(arrival: date, departure: date, today: date | None = None,
           past: bool = False) -> None:
    """Refuse a stay that ends before it starts, is longer than a year or (unless ``past``)
    starts before today."""
    if departure <= arrival:
        raise invalid("departure", "must be after arrival")
    if (departure - arrival).days > MAX_NIGHTS:
        raise invalid("departure", f"at most {MAX_NIGHTS} nights after arrival")
    if not past and arrival < (today or date.today()):
        raise invalid("arrival", "is in the past")

