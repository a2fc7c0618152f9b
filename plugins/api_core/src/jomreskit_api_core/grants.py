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
  deleted, a manager's role or properties changed, a manager deleted. It is seen on any
  SQLAlchemy session, the site's or a host app's, as ORM objects flushed or as INSERT, UPDATE
  or DELETE statements on those tables.
- A change made in another process (a second server process, ``jomreskit keys revoke``) is seen
  here when what was remembered runs out: within the TTL. A key revoked elsewhere may get a
  token here meanwhile, which its first call then refuses (its grant is read afresh).

Only what was found is remembered, so a stream of made-up tokens or client ids cannot fill the
memory.
"""

from __future__ import annotations

from itertools import chain
from time import monotonic
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from jomreskit.domain import ManagerProperty, User

from .models import AccessToken, ApiKey

K = TypeVar("K")
V = TypeVar("V")

DEFAULT_TTL = 2.0  # seconds
MAX_REMEMBERED = 10_000  # per site and kind; when full, all are forgotten and the filling restarts

_GRANTING = (AccessToken, ApiKey, User, ManagerProperty)
_GRANTING_TABLES = frozenset(model.__table__ for model in _GRANTING)
_CHANGED = "jomreskit_grants_changed"  # a Session.info flag, until the session commits

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

    def remember(self, key: K, value: V, read_at_generation: int) -> None:
        if self.ttl <= 0:
            return
        if len(self._found) >= MAX_REMEMBERED:
            self._found.clear()
        self._found[key] = (monotonic() + self.ttl, read_at_generation, value)


# -- noticing changes --------------------------------------------------------------------------


@event.listens_for(Session, "after_flush")
def _note_flushed_changes(session: Session, _flush: UOWTransaction) -> None:
    if not session.info.get(_CHANGED) and any(
            isinstance(instance, _GRANTING)
            for instance in chain(session.new, session.dirty, session.deleted)):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_statement_changes(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and getattr(
            state.statement, "table", None) in _GRANTING_TABLES:
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    global _generation
    if session.info.pop(_CHANGED, None):
        _generation += 1


@event.listens_for(Session, "after_soft_rollback")
def _nothing_changed_after_all(session: Session, _previous: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_CHANGED, None)
