"""CSRF protection for the console's forms: a random token per session, checked on every POST.

A synchronizer token is all the console needs; its forms are plain HTML, so a form library
would add nothing but weight. The session cookie is SameSite=Lax besides.
"""

from __future__ import annotations

import hmac
import secrets

from flask import request, session
from markupsafe import Markup

SESSION_KEY = "jomreskit_csrf"
FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def token() -> str:
    """This session's token, made on first use."""
    value = session.get(SESSION_KEY)
    if not value:
        value = session[SESSION_KEY] = secrets.token_urlsafe(32)
    return value


def field() -> Markup:
    """The hidden input every console form carries."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, token())


def request_is_valid() -> bool:
    """Whether an unsafe request carries this session's token (safe methods always pass)."""
    if request.method not in UNSAFE_METHODS:
        return True
    expected = session.get(SESSION_KEY)
    sent = request.form.get(FIELD) or request.headers.get("X-CSRF-Token") or ""
    return bool(expected) and hmac.compare_digest(str(expected), sent)


def rotate() -> None:
    """A fresh token, on sign-in and sign-out."""
    session[SESSION_KEY] = secrets.token_urlsafe(32)
