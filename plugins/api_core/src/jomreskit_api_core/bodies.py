"""Reading a request's JSON body, the one way every write view does it."""

from __future__ import annotations

import json
from typing import Any

from flask import g, request

from .errors import ApiError

INVALID_JSON = "invalid_json"


def current_json() -> dict[str, Any]:
    """The request's body parsed as a JSON object.

    Answers 422 ``invalid_json`` for a missing body, malformed JSON (the message gives the line
    and column), a body that is not an object, ``NaN``/``Infinity`` (no JSON parser but
    Python's would take them) and a member named twice (which one counts is a guess). Read once
    per request; the same dict is returned each time.
    """
    parsed = g.get("jomreskit_json")
    if parsed is None:
        parsed = g.jomreskit_json = _parse(request.get_data(cache=True))
    return parsed


def _parse(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise ApiError(422, INVALID_JSON, "the request needs a JSON object as its body")
    try:
        value = json.loads(raw, parse_constant=_not_json, object_pairs_hook=_members)
    except json.JSONDecodeError as exc:
        raise ApiError(422, INVALID_JSON, f"malformed JSON at line {exc.lineno} column "
                                          f"{exc.colno} (character {exc.pos}): {exc.msg}"
                       ) from None
    except UnicodeDecodeError as exc:
        raise ApiError(422, INVALID_JSON, f"the body is not UTF-8 text (byte {exc.start})"
                       ) from None
    except _Refused as exc:
        raise ApiError(422, INVALID_JSON, str(exc), field=exc.field) from None
    except (ValueError, RecursionError):  # a number of thousands of digits, or deep nesting
        raise ApiError(422, INVALID_JSON, "the JSON body is too large or too deeply nested"
                       ) from None
    if not isinstance(value, dict):
        raise ApiError(422, INVALID_JSON,
                       f"the body must be a JSON object, not {_kind(value)}")
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
            raise _Refused(f"member {name[:100]!r} is given twice", field=name[:100])
        members[name] = value
    return members


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
