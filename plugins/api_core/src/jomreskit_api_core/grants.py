"""Checked tokens remembered for a moment, so a busy API key's calls skip the token query.

A remote service answering notifications calls the API hundreds of times a second with one
token. What that token grants (its key, manager and role, and the manager's link to the
property a path names) is read once and remembered, per token and property, for at most
``JOMRESKIT_API_TOKEN_CACHE_TTL`` seconds (0 turns remembering off).

- Expiry stays exact: each call compares the token's expiry with the clock.
- A change made in this process forgets every remembered grant when it commits, so the next
  call is refused at once: a token revoked at ``/oauth/revoke``, a key revoked, rotated or
  deleted, a manager's role or properties changed, a manager deleted. It is seen on any
  SQLAlchemy session, the site's or a host app's, as ORM objects flushed or as UPDATE/DELETE
  statements on those tables.
- A change made in another process (a second server process, ``jomreskit keys revoke``) is seen
  here when the remembered grant runs out: within the TTL.

Only tokens found are remembered, so a stream of made-up tokens cannot fill the memory.
"""

from __future__ import annotations

from itertools import chain
from time import monotonic
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from jomreskit.domain import ManagerProperty, User

from .models import AccessToken, ApiKey, TokenGrant

DEFAULT_TTL = 2.0  # seconds
MAX_GRANTS = 10_000  # remembered at once; when full, all are forgotten and the filling restarts

_GRANTING = (AccessToken, ApiKey, User, ManagerProperty)
_GRANTING_TABLES = frozenset(model.__table__ for model in _GRANTING)
_CHANGED = "jomreskit_grants_changed"  # a Session.info flag, until the session commits

# Bumped by every commit that changed what tokens grant. A remembered grant holds the value
# read before its query, so a change committed while the query ran forgets it too.
_generation = 0


def generation() -> int:
    return _generation


class RememberedGrants:
    """One site's remembered grants: ``(token hash, property uid) -> TokenGrant``."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._grants: dict[tuple[str, int | None], tuple[float, int, TokenGrant]] = {}

    def get(self, token_hash: str, property_uid: int | None) -> TokenGrant | None:
        remembered = self._grants.get((token_hash, property_uid))
        if remembered is None:
            return None
        until, seen, grant = remembered
        if seen != _generation or until <= monotonic():
            return None
        return grant

    def remember(self, token_hash: str, property_uid: int | None, grant: TokenGrant,
                 read_at_generation: int) -> None:
        if self.ttl <= 0:
            return
        if len(self._grants) >= MAX_GRANTS:
            self._grants.clear()
        self._grants[(token_hash, property_uid)] = (monotonic() + self.ttl, read_at_generation,
                                                    grant)


# -- noticing changes --------------------------------------------------------------------------


@event.listens_for(Session, "after_flush")
def _note_flushed_changes(session: Session, _flush: UOWTransaction) -> None:
    if not session.info.get(_CHANGED) and any(
            isinstance(instance, _GRANTING)
            for instance in chain(session.new, session.dirty, session.deleted)):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_statement_changes(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and getattr(
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
