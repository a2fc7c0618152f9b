"""Checked tokens and keys remembered for a moment, so a busy API key skips their queries.

A remote service answering notifications calls the API hundreds of times a second with one
token, and asks for a new token as often as its old one runs out. What a token grants (its key,
manager and role, and the manager's link to the property a path names) is read once and
remembered, per token and property, for at most ``JOMRESKIT_API_TOKEN_CACHE_TTL`` seconds;
so is what token issue reads of a key (its secret's hash and scopes), per client id. 0 turns
remembering off.

- Expiry stays exact: each call compares the token's expiry with the clock.
- A change made in this process forgets everything remembered when it commits, so the next
  call is refused at once: a token revoked at ``/oauth/revoke``, a key revoked, rotated or
  deleted, a manager's role or properties changed, a manager deleted. It is seen on the site's
  engine (a host app's, when jomreskit shares its session), whatever session or connection
  made it, as ORM objects flushed or as INSERT, UPDATE or DELETE statements on those tables.
- A change made in another process (a second server process, ``jomreskit keys revoke``) is seen
  here when what was remembered runs out: within the TTL. Token issue is exact all the same:
  a token is stored only while its key holds the secret it was asked with and is not revoked
  (``oauth.TOKEN_INSERT``), and a new secret is tried on the key read afresh, so from the moment
  a rotation or revocation commits the old secret gets no token in any process.

Only what was found is remembered, so a stream of made-up tokens or client ids cannot fill the
memory.
"""

from __future__ import annotations

from time import monotonic
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from jomreskit.db import in_autocommit
from jomreskit.domain import ManagerProperty, User

from .models import AccessToken, ApiKey

K = TypeVar("K")
V = TypeVar("V")

DEFAULT_TTL = 2.0  # seconds
MAX_REMEMBERED = 10_000  # per site and kind; when full, all are forgotten and the filling restarts

_GRANTING = (AccessToken, ApiKey, User, ManagerProperty)
_GRANTING_TABLES = frozenset(model.__table__ for model in _GRANTING)
_CHANGED = "jomreskit_grants_changed"  # a Connection.info flag, until its transaction ends

# Bumped by every commit that changed what tokens grant. A remembered grant holds the value
# read before its query, so a change committed while the query ran forgets it too.
_generation = 0


def generation() -> int:
    return _generation


class Remembered(Generic[K, V]):
    """One site's remembered grants (``(token hash, property uid) -> TokenGrant``) or keys
    (``client_id -> KeyClient``)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._found: dict[K, tuple[float, int, V]] = {}

    def get(self, key: K) -> V | None:
        remembered = self._found.get(key)
        if remembered is None:
            return None
        until, seen, value = remembered
        if seen != _generation or until <= monotonic():
            return None
        return value

    def forget(self, key: K) -> None:
        self._found.pop(key, None)

    def remember(self, key: K, value: V, read_at_generation: int) -> None:
        if self.ttl <= 0:
            return
        if len(self._found) >= MAX_REMEMBERED:
            self._found.clear()
        self._found[key] = (monotonic() + self.ttl, read_at_generation, value)


# -- noticing changes --------------------------------------------------------------------------


def watch(engine: Engine) -> None:
    """Notice, on ``engine`` (the site's, a host app's when jomreskit shares it), every write to
    the tables that say what tokens grant, and forget what was remembered when it commits: by
    any session or connection on that engine, as ORM objects flushed or as statements. Only
    this engine is watched, nothing process-wide."""
    if not event.contains(engine, "after_execute", _note_change):
        event.listen(engine, "after_execute", _note_change)
        event.listen(engine, "commit", _forget_on_commit)
        event.listen(engine, "rollback", _nothing_changed_after_all)


def _note_change(connection: Connection, statement: Any, *_args: Any) -> None:
    if getattr(statement, "is_dml", False) and getattr(
            statement, "table", None) in _GRANTING_TABLES:
        if in_autocommit(connection):
            _forget()  # committed already, by itself
        else:
            connection.info[_CHANGED] = True


def _forget_on_commit(connection: Connection) -> None:
    if connection.info.pop(_CHANGED, None):
        _forget()


def _nothing_changed_after_all(connection: Connection) -> None:
    if not connection.invalidated:  # else its info goes with the connection it belonged to
        connection.info.pop(_CHANGED, None)


def _forget() -> None:
    global _generation
    _generation += 1
