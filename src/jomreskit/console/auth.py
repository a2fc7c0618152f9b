"""Who is signed in to the console: password check, the session record, and its expiry.

The session (Flask's signed cookie) holds the user's id, when they signed in, and a short
MAC of their password hash: changing the password ends every session of that user, as
Django does. Nothing secret is stored in the cookie.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import time

from flask import current_app, g, session
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ..core.domain.models import ROLES, User
from ..core.errors import PermissionDenied
from ..core.kit import Kit, get_kit

SESSION_KEY = "jomreskit_console"


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so both failures take the same time
    (made on first use: hashing is deliberately slow, and start-up should not pay for it)."""
    return generate_password_hash("jomreskit-no-such-user")


class SignInFailed(PermissionDenied):
    """A username or password that does not match; the message never says which."""

    code = "sign_in_failed"


def check_password(kit: Kit, username: str, password: str) -> User:
    """The user with this username and password, or SignInFailed."""
    user = kit.session().scalar(select(User).where(User.username == username.strip()))
    stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
    matches = check_password_hash(stored, password)
    if user is None or not user.password_hash or not matches or user.role not in ROLES:
        raise SignInFailed("Wrong username or password.")
    return user


def _password_mac(kit: Kit, user: User) -> str:
    key = hashlib.sha256(b"jomreskit-console-session:" + kit.secret_key.encode()).digest()
    return hmac.new(key, (user.password_hash or "").encode(), hashlib.sha256).hexdigest()[:32]


def start(kit: Kit, user: User) -> None:
    """Sign ``user`` in: a fresh session record (and, by the caller, a fresh CSRF token)."""
    session.pop(SESSION_KEY, None)
    session[SESSION_KEY] = {
        "manager_id": user.manager_id,
        "at": int(time.time()),
        "check": _password_mac(kit, user),
    }
    session.permanent = True
    g.pop("console_user", None)


def end() -> None:
    session.pop(SESSION_KEY, None)
    g.pop("console_user", None)


def current_user() -> User | None:
    """The signed-in console user of this request, or None (expired or changed sessions count
    as signed out)."""
    if "console_user" in g:
        return g.console_user
    user = None
    record = session.get(SESSION_KEY)
    if isinstance(record, dict):
        kit = get_kit()
        lifetime = current_app.config["JOMRESKIT_CONSOLE_SESSION_LIFETIME"]
        fresh = time.time() - int(record.get("at", 0)) < lifetime
        candidate = kit.session().get(User, record.get("manager_id")) if fresh else None
        if candidate is not None and hmac.compare_digest(
            str(record.get("check", "")), _password_mac(kit, candidate)
        ):
            user = candidate
        else:
            session.pop(SESSION_KEY, None)
    g.console_user = user
    return user
