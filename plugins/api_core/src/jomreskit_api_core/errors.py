"""The error a view raises to answer with a status and code of its own choosing."""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """An error a view raises to answer ``{"error": {"code": code, "message": message}}``;
    with ``field``, the answer names the input field at fault (``"field": "departure"``)."""

    def __init__(self, status: int, code: str, message: str,
                 headers: Mapping[str, str] | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.field = field
