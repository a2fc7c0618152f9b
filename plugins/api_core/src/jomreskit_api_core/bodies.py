"""Reading a request's JSON body, the one way every write view does it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import g, request

from .errors import ApiError

INVALID_JSON = "invalid_json"
CENT = Decimal("0.01")
# A decimal amount as text: ASCII digits and at most one point, nothing else (Decimal() alone
# would take "1_000", "-0.00", "1e3" and other scripts' digits).
AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
MEMBER_CODE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*", re.ASCII)  # guest.surname


def current_json() -> dict[str, Any]:
    """The request's body parsed as a JSON object.

    Answers 422 ``invalid_json`` for a missing body, a body that is not UTF-8 (JSON text
    exchanged between systems is UTF-8: a UTF-16 or UTF-32 body is refused, not guessed at),
    malformed JSON (the message gives the line and column), a body that is not an object,
    ``NaN``/``Infinity`` (no JSON parser but Python's would take them), a member named twice
    (which one counts is a guess); and 422 ``invalid_<member>`` for text no database can store:
    a lone surrogate (``"\\ud800"`` is valid JSON but names no character, and no UTF-8 text
    holds it) or a NUL character, in a member's name or value, ``field`` naming the member
    (``guest.surname``). So no view ever sees such text. Read once per request; the same dict
    is returned each time.
    """
    parsed = g.get("jomreskit_json")
    if parsed is None:
        parsed = g.jomreskit_json = _parse(request.get_data(cache=True))
    return parsed


def _parse(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise ApiError(422, INVALID_JSON, "the request needs a JSON object as its body")
    try:
        # Decoded here, not by json.loads: given bytes, it would guess UTF-16 or UTF-32.
        text = raw.decode("utf-8").removeprefix("\ufeff")  # a byte order mark may be ignored
    except UnicodeDecodeError as exc:
        raise ApiError(422, INVALID_JSON, f"the body is not UTF-8 text (byte {exc.start})"
                       ) from None
    try:
        value = json.loads(text, parse_constant=_not_json, object_pairs_hook=_members)
    except json.JSONDecodeError as exc:
        raise ApiError(422, INVALID_JSON, f"malformed JSON at line {exc.lineno} column "
                                          f"{exc.colno} (character {exc.pos}): {exc.msg}"
                       ) from None
    except _Refused as exc:
        raise ApiError(422, INVALID_JSON, str(exc), field=exc.field) from None
    except (ValueError, RecursionError):  # a number of thousands of digits, or deep nesting
        raise ApiError(422, INVALID_JSON, "the JSON body is too large or too deeply nested"
                       ) from None
    if not isinstance(value, dict):
        raise ApiError(422, INVALID_JSON,
                       f"the body must be a JSON object, not {_kind(value)}")
    try:
        _check_text(value)
    except RecursionError:
        raise ApiError(422, INVALID_JSON, "the JSON body is too deeply nested") from None
    return value


class _Refused(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _not_json(constant: str) -> Any:
    raise _Refused(f"{constant} is not a JSON value")


def _members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            raise _Refused(f"member {printable(name, 100)!r} is given twice",
                           field=printable(name, 100))
        members[name] = value
    return members


def _check_text(value: Any, path: str = "") -> None:
    """Refuse, naming the member (``guest.surname``), text no database can store."""
    if isinstance(value, dict):
        for name, member in value.items():
            where = f"{path}.{name}" if path else name
            if not _storable(name):
                raise Body.invalid(where, "this member's name holds a lone surrogate or a NUL "
                                          "character, which no text can store")
            _check_text(member, where)
    elif isinstance(value, list):
        for item in value:
            _check_text(item, path)
    elif isinstance(value, str) and not _storable(value):
        raise Body.invalid(path, "holds a lone surrogate (an unpaired \\ud800 to \\udfff "
                                 "escape) or a NUL character, which no text can store")


def _storable(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 and stored by every database (no NUL)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters, with what cannot travel as UTF-8 (lone surrogates)
    and control characters escaped, fit to be shown back in an error."""
    cut = text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in cut)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    if value is None:
        return "null"
    return "a number"


class Body(dict[str, Any]):
    """A write's JSON object, read member by member.

    Each reader gives the member's typed value (None for an absent optional member) or refuses
    with ``Body.invalid``: 422 ``invalid_<member>`` whose ``field`` names the member, so a
    client knows which one to fix.
    """

    MAX_ID = 2**31 - 1  # ids are 32-bit columns
    MAX_NIGHTS = 366  # a year of nights at most in one stay, close or rate
    MAX_MONEY = Decimal("9999999999.99")  # Numeric(12, 2)

    @classmethod
    def of_request(cls, known: Iterable[str]) -> Body:
        """The request's JSON object (``current_json``), refusing a member outside ``known``:
        a misspelt member would otherwise be ignored without a word."""
        body = cls(current_json())
        known = set(known)
        for member in body:
            if member not in known:
                raise cls.invalid(member, f"unknown member; known: {', '.join(sorted(known))}")
        return body

    @staticmethod
    def invalid(member: str, why: str) -> ApiError:
        """The 422 answer for ``member``: ``raise Body.invalid("departure", "must be ...")``.

        The code is ``invalid_<member>`` for a member named as this API names them (lower
        case letters, digits, underscores), else ``invalid_member``: a client's odd name (a NUL,
        a quote, an emoji) never becomes part of an error code.
        """
        shown = printable(member)
        code = (f"invalid_{member}" if len(member) <= 60 and MEMBER_CODE.fullmatch(member)
                else "invalid_member")
        return ApiError(422, code, f"{shown}: {why}", field=shown)

    def _given(self, member: str, required: bool, what: str = "") -> Any:
        value = self.get(member)
        if value is None and required:
            raise self.invalid(member, f"is required{what}")
        return value

    def date(self, member: str, required: bool = True) -> date | None:
        value = self._given(member, required, " (YYYY-MM-DD)")
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.invalid(member, "must be a date text, YYYY-MM-DD")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.invalid(member, f"{value[:40]!r} is not a date (YYYY-MM-DD)") from None

    def id(self, member: str, required: bool = True) -> int | None:
        value = self._given(member, required)
        if value is not None and not self._is_id(value):
            raise self.invalid(member, "must be a whole number from 1")
        return value

    def ids(self, member: str, required: bool = True) -> list[int] | None:
        """A list of 1 to 1,000 ids, repeats dropped, in the order given."""
        value = self._given(member, required, ": a list of ids")
        if value is None:
            return None
        if not isinstance(value, list) or not value or len(value) > 1000:
            raise self.invalid(member, "must be a list of 1 to 1000 ids")
        for item in value:
            if not self._is_id(item):
                raise self.invalid(member, f"{str(item)[:40]!r} is not an id")
        return list(dict.fromkeys(value))

    def money(self, member: str, required: bool = True) -> Decimal | None:
        """An amount as a JSON number or a decimal text ("75.00"), at least 0, to the cent.

        Text is ASCII digits with at most one decimal point: no sign (not even "-0.00"), no
        exponent, no "1_000" nor "1,000", no other script's digits.
        """
        value = self._given(member, required, ': an amount such as "75.00"')
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.invalid(member, 'must be an amount such as "75.00"')
        if isinstance(value, str) and not AMOUNT.fullmatch(value.strip()):
            raise self.invalid(member, f"{printable(value)!r} is not an amount such as "
                                       '"75.00" (digits 0-9 and a point)')
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise self.invalid(member, f"{printable(str(value))!r} is not an amount") from None
        if (not amount.is_finite() or amount.is_signed() or amount < 0
                or amount > self.MAX_MONEY):  # is_signed: -0.0 as a JSON number
            raise self.invalid(member, f"must be from 0 to {self.MAX_MONEY}")
        if amount != amount.quantize(CENT):
            raise self.invalid(member, "has more than two decimals")
        return amount.quantize(CENT)

    def text(self, member: str, max_length: int, required: bool = False) -> str | None:
        value = self._given(member, required)
        if value is None:
            return None
        if not isinstance(value, str) or "\x00" in value or len(value) > max_length:
            raise self.invalid(member, f"must be a text of at most {max_length} characters")
        if required and not value.strip():
            raise self.invalid(member, "must not be empty")
        return value

    @classmethod
    def check_stay(cls, arrival: date, departure: date, today: date | None = None,
                   past: bool = False) -> None:
        """Refuse nights that end before they start, run longer than a year or (unless
        ``past``) start before today."""
        if departure <= arrival:
            raise cls.invalid("departure", "must be after arrival")
        if (departure - arrival).days > cls.MAX_NIGHTS:
            raise cls.invalid("departure", f"at most {cls.MAX_NIGHTS} nights after arrival")
        if not past and arrival < (today or date.today()):
            raise cls.invalid("arrival", "is in the past")

    @classmethod
    def _is_id(cls, value: Any) -> bool:
        return not isinstance(value, bool) and isinstance(value, int) and 0 < value <= cls.MAX_ID
