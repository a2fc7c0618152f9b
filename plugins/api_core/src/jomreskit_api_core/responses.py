"""The REST API's two response shapes, and the one helper that writes every error.

Success: ``{"data": ..., "meta": {...}}``. Error: ``{"error": {"code": ..., "message": ...}}``,
with ``"field"`` beside them when the error is about one input field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from flask import Response

from jomreskit.db import timestamp_text

JSON_MIMETYPE = "application/json"


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
    input field at fault; without one the member is left out."""
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    return json_response({"error": body}, status, headers)
