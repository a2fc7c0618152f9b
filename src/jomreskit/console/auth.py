"""Who is signed in to the console: password check, the session record, and its expiry.

A sign-in is a row in ``user_sessions``; Flask's signed cookie carries only the random token
that names it. Signing out deletes the row, and a new password or role deletes every row of
that user (``services.update_user``), so a cookie captured before no longer opens anything.
Nothing secret is stored in the cookie.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import timedelta

from flask import current_app, g, session
from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..core.db import utcnow
from ..core.domain.models import ROLES, User, UserSession
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


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(kit: Kit, user: User) -> None:
    """Sign ``user`` in: a fresh session record (and, by the caller, a fresh CSRF token)."""
    end(kit)
    token = secrets.token_urlsafe(32)
    lifetime = timedelta(seconds=current_app.config["JOMRESKIT_CONSOLE_SESSION_LIFETIME"])
    with kit.transaction() as db_session:
        db_session.execute(delete(UserSession).where(  # this user's expired sign-ins
            UserSession.manager_id == user.manager_id,
            UserSession.created_at < utcnow() - lifetime,
        ))
        db_session.add(UserSession(token_hash=_token_hash(token), manager_id=user.manager_id))
    session[SESSION_KEY] = {"token": token}
    session.permanent = True


def end(kit: Kit) -> None:
    """Sign out: the session record is deleted, so the cookie is worthless even if kept."""
    record = session.pop(SESSION_KEY, None)
    g.pop("console_user", None)
    if isinstance(record, dict) and isinstance(record.get("token"), str):
        with kit.transaction() as db_session:
            db_session.execute(
                delete(UserSession).where(UserSession.token_hash == _token_hash(record["token"]))
            )


def current_user() -> User | None:
    """The signed-in console user of this request, or None (expired or ended sessions count
    as signed out)."""
    if "console_user" in g:
        return g.console_user
    user = None
    record = session.get(SESSION_KEY)
    if isinstance(record, dict) and isinstance(record.get("token"), str):
        kit = get_kit()
        lifetime = current_app.config["JOMRESKIT_CONSOLE_SESSION_LIFETIME"]
        held = kit.session().get(UserSession, _token_hash(record["token"]))
        if held is not None and (utcnow() - held.created_at).total_seconds() < lifetime:
            user = kit.session().get(User, held.manager_id)
        if user is None:
            session.pop(SESSION_KEY, None)
    g.console_user = user
    return user
