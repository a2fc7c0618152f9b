"""The REST API's two response shapes, and the one helper that writes every error.

Success: ``{"data": ..., "meta": {...}}``. Error: ``{"error": {"code": ..., "message": ...}}``,
with ``"field"`` beside them when the error is about one input field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from flask import Response

from jomreskit.db import timestamp_text

JSON_MIMETYPE = "application/json"
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # a request id that JSON text holds as it is


class JSONText(str):
    """JSON text written elsewhere (a database's JSON functions, say): a view that returns one
    as its ``data`` has it carried into the success envelope as it is, not decoded and
    written again."""

    __slots__ = ()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return timestamp_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # money keeps its exact digits
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# One encoder for every answer: json.dumps with options builds a new one on each call.
_ENCODER = json.JSONEncoder(default=_default, ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> str:
    """JSON text of ``value``: dates in ISO 8601, decimals as exact strings."""
    return _ENCODER.encode(value)


def canonical(value: Any) -> bytes:
    """One JSON text per value, whatever order its members were built in: what ETags and
    request fingerprints hash."""
    return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":"),
                      sort_keys=True).encode("utf-8", "surrogatepass")


def json_response(body: Any, status: int = 200,
                  headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> Response:
    """A JSON response of ``body`` as is (no envelope)."""
    return Response(dumps(body), status=status, headers=headers, mimetype=JSON_MIMETYPE)


def success(data: Any, meta: Mapping[str, Any] | None = None, status: int = 200) -> Response:
    """The success envelope."""
    if isinstance(data, JSONText):
        body = '{"data":' + data + ',"meta":' + dumps(dict(meta or {})) + "}"
        return Response(body, status=status, mimetype=JSON_MIMETYPE)
    return json_response({"data": data, "meta": dict(meta or {})}, status)


def error(status: int, code: str, message: str,
          headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
          field: str | None = None) -> Response:
    """The error envelope: every error the API answers goes through here. ``field`` names the
    input field at fault; without one the member is left out.

    It cannot fail: text that UTF-8 cannot carry (a lone surrogate a client sent, echoed in a
    message) is written as its escape, and should anything else go wrong the answer is still
    the envelope, a 500 ``internal_error``.
    """
    try:
        body: dict[str, Any] = {"code": _utf8(code), "message": _utf8(message)}
        if field:
            body["field"] = _utf8(field)
        return json_response({"error": body}, status, headers)
    except Exception:  # noqa: BLE001 - the answer of last resort must not fail itself
        return internal_error()


def internal_error(request_id: str = "") -> Response:
    """The answer when serving a request failed in a way of the site's own: a 500 envelope of
    fixed text, built without anything that could fail."""
    where = f" under request id {request_id}" if _SAFE_ID.fullmatch(request_id) else ""
    return Response('{"error":{"code":"internal_error","message":"unexpected error; the '
                    f"site's log has the details{where}\"}}}}", status=500,
                    mimetype=JSON_MIMETYPE)


def _utf8(text: Any) -> str:
    """``text`` as a string UTF-8 can carry: a lone surrogate becomes its escape, ``\\ud800``."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")
