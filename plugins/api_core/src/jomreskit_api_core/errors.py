"""The error a view raises to answer with a status and code of its own choosing, and the
guard that turns any exception into a JSON answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from flask import Response

from . import responses

log = logging.getLogger("jomreskit.api")


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


def answer(exc: Exception, render: Callable[[Exception], Response], request_id: str) -> Response:
    """``render(exc)``, the JSON answer to an exception; should rendering fail in turn (text an
    answer cannot carry, a failing log handler), the 500 envelope with the request id, so that
    no API answer is ever Flask's HTML error page."""
    try:
        return render(exc)
    except Exception as failure:  # noqa: BLE001 - the answer of last resort
        log.error("rendering the API's answer to %s failed (request id %s)",
                  type(exc).__name__, request_id, exc_info=failure)
        return responses.internal_error(request_id)
