"""Managing API keys: the one way the CLI (and a web console) create, list, revoke and rotate them.

Like the core's services, these work in the caller's transaction and do not commit.
A key's secret is returned once, by ``create_key`` and ``rotate_key``; only its hash is kept.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, select

from jomreskit import NotFound, PermissionDenied, ValidationError
from jomreskit.db import timestamp_text, utcnow
from jomreskit.domain import User, services

from .models import AccessToken, ApiKey, digest

if TYPE_CHECKING:
    from jomreskit import Kit, Scope

CLIENT_ID_PREFIX = "jkc_"
SECRET_PREFIX = "jks_"  # recognisable, so a secret pasted somewhere public can be found


def new_client_id() -> str:
    return CLIENT_ID_PREFIX + secrets.token_urlsafe(18)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _manager(kit: Kit, manager: User | int | str) -> User:
    return services.find_manager(kit, manager)


def grantable_scopes(kit: Kit, role: str) -> list[Scope]:
    """The registered scopes a manager of ``role`` may put on a key."""
    return [s for s in kit.scopes.values() if s.grantable_by(role)]


def check_scopes(kit: Kit, manager: User, scopes: Iterable[str]) -> list[str]:
    """``scopes`` without repeats, refusing unknown ones and those the manager may not grant."""
    chosen = list(dict.fromkeys(s.strip() for s in scopes if s and s.strip()))
    allowed = [s.name for s in grantable_scopes(kit, manager.role)]
    if not chosen:
        raise ValidationError(
            "choose at least one scope for the key; "
            + (f"{manager.username} may grant: {', '.join(allowed)}" if allowed
               else "no plugin registers any scope (is an api_feature plugin installed?)"),
            code="invalid_scope",
        )
    for name in chosen:
        if name not in kit.scopes:
            raise ValidationError(
                f"unknown scope {name!r}; the registered scopes are: "
                + (", ".join(sorted(kit.scopes)) or "none"),
                code="invalid_scope",
            )
        if name not in allowed:
            raise PermissionDenied(
                f"{manager.username} is a {manager.role} and may not grant scope {name!r} "
                f"(only super managers may); they may grant: {', '.join(allowed) or 'nothing'}",
                code="scope_not_grantable",
            )
    return chosen


def create_key(kit: Kit, manager: User | str, scopes: Iterable[str],
               name: str = "") -> tuple[ApiKey, str]:
    """A new API key for ``manager`` (a User or a username) with ``scopes``.

    Returns the key and its client secret, which is not stored and cannot be shown again.
    """
    user = _manager(kit, manager)
    chosen = check_scopes(kit, user, scopes)
    if len(name) > 100:
        raise ValidationError("a key's name is at most 100 characters")
    secret = new_secret()
    key = ApiKey(client_id=new_client_id(), secret_hash=digest(secret), manager=user,
                 name=name.strip(), scopes=chosen)
    session = kit.session()
    session.add(key)
    session.flush()
    return key, secret


def list_keys(kit: Kit, manager: User | str | None = None) -> list[ApiKey]:
    """Every API key (revoked ones too), or ``manager``'s, oldest first."""
    query = select(ApiKey).order_by(ApiKey.id)
    if manager is not None:
        query = query.where(ApiKey.manager_id == _manager(kit, manager).manager_id)
    return list(kit.session().scalars(query))


def get_key(kit: Kit, client_id: str, manager: User | str | None = None) -> ApiKey:
    """The key with ``client_id``; with ``manager``, only if it is theirs."""
    key = kit.session().scalar(select(ApiKey).where(ApiKey.client_id == client_id))
    if key is None or (manager is not None
                       and key.manager_id != _manager(kit, manager).manager_id):
        raise NotFound(f"no API key {client_id!r}", code="invalid_client_id")
    return key


def revoke_key(kit: Kit, client_id: str, manager: User | str | None = None) -> ApiKey:
    """Revoke a key: it issues no more tokens and every token it holds stops working, at once
    in this process and within JOMRESKIT_API_TOKEN_CACHE_TTL seconds in a running server
    process elsewhere (see ``grants``)."""
    key = get_key(kit, client_id, manager)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    kit.session().execute(delete(AccessToken).where(AccessToken.api_key_id == key.id))
    kit.session().flush()
    return key


def rotate_key(kit: Kit, client_id: str, manager: User | str | None = None) -> tuple[ApiKey, str]:
    """Give a key a new secret (the old one stops working, and so do its tokens).

    Returns the key and the new secret, shown this once.
    """
    key = get_key(kit, client_id, manager)
    if key.revoked_at is not None:
        raise ValidationError(f"API key {client_id} is revoked; create a new one",
                              code="revoked_key")
    secret = new_secret()
    key.secret_hash = digest(secret)
    key.rotated_at = utcnow()
    kit.session().execute(delete(AccessToken).where(AccessToken.api_key_id == key.id))
    kit.session().flush()
    return key, secret


_TOKENS = AccessToken.__table__
EXPIRED_TOKENS = delete(_TOKENS).where(_TOKENS.c.expires_at <= bindparam("now"))


def purge_expired_tokens(kit: Kit) -> int:
    """Delete access tokens that have expired; returns how many."""
    # On the tables (no ORM bulk delete to set up): the token endpoint runs it on every issue.
    result = kit.session().connection().execute(EXPIRED_TOKENS, {"now": utcnow()})
    return result.rowcount or 0


def key_json(key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    """A key as shown to people and scripts: never its secret, except the one just made."""
    shown: dict[str, Any] = {
        "client_id": key.client_id,
        "name": key.name,
        "manager": key.manager.username,
        "manager_id": key.manager_id,
        "scopes": list(key.scopes),
        "active": key.active,
        "created_at": timestamp_text(key.created_at),
        "rotated_at": timestamp_text(key.rotated_at) if key.rotated_at else None,
        "revoked_at": timestamp_text(key.revoked_at) if key.revoked_at else None,
    }
    if secret is not None:
        shown["client_secret"] = secret
    return shown
