"""Browsers a user has signed in from before: a signed cookie naming the user and the browser,
so the sign-in throttle can tell the real user from someone guessing their password."""

from __future__ import annotations

import secrets

from flask import current_app, request
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from ..core.kit import get_kit
from .state import console_of

COOKIE = "jomreskit_console_device"
LIFETIME = 365 * 86400  # seconds a browser stays known


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_kit().secret_key, salt="jomreskit-console-device")


def known_device(username: str) -> str | None:
    """The id of this browser when it signed in as ``username`` before, else None."""
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    try:
        record = _serializer().loads(value, max_age=LIFETIME)
    except BadData:
        return None
    if isinstance(record, dict) and record.get("username") == username:
        return str(record.get("device"))
    return None


def remember(response: Response, username: str) -> None:
    """Mark this browser as one ``username`` signs in from (after a correct password)."""
    value = _serializer().dumps({"username": username, "device": secrets.token_urlsafe(12)})
    response.set_cookie(
        COOKIE, value, max_age=LIFETIME, path=console_of().prefix or "/", httponly=True,
        samesite="Lax", secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
