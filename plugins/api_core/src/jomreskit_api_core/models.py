"""API keys (OAuth2 clients owned by a manager), their access tokens, rate-limit counters, and
the answers kept for Idempotency-Keys.

Client secrets and access tokens are random with about 250 bits of entropy, so a SHA-256 of
each is what is stored (a slow password hash adds nothing there): a leaked table gives away
neither.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, list_to_scope, scope_to_list
from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jomreskit import Scope
from jomreskit.db import Base, utcnow
from jomreskit.domain import User

TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def digest(secret: str) -> str:
    """The stored form of a client secret or access token."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class ApiKey(Base):
    """An API key: an OAuth2 client-credentials client that acts for one manager."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    manager_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    scopes: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    manager: Mapped[User] = relationship(lazy="joined")

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def effective_scopes(scopes: list[str], role: str, registered: Mapping[str, Scope]) -> list[str]:
    """A key's scopes that its manager's ``role`` may still grant today (a manager made a
    super manager, or the other way round, changes what new tokens get)."""
    return [s for s in scopes if s not in registered or registered[s].grantable_by(role)]


@dataclass(frozen=True)
class KeyClient(ClientMixin):
    """An active API key as the token endpoints see it (Authlib's client), read in one query.

    ``scopes`` are those its manager may still grant (``effective_scopes``).
    """

    id: int
    client_id: str
    secret_hash: str
    scopes: tuple[str, ...]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """All the key's scopes when none are asked for; None (invalid_scope) when asked for
        one it does not hold."""
        if not scope:
            return list_to_scope(list(self.scopes))
        asked = scope_to_list(scope)
        if not set(asked) <= set(self.scopes):
            return None
        return list_to_scope([s for s in self.scopes if s in asked])

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in TOKEN_ENDPOINT_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class AccessToken(Base):
    """A bearer token issued to an API key; only its SHA-256 is kept (see ``TokenGrant``)."""

    __tablename__ = "api_access_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    api_key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(String(1000), default="")
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)

    api_key: Mapped[ApiKey] = relationship()


@dataclass(frozen=True)
class TokenGrant(TokenMixin):
    """What a presented access token grants, read with its key and manager in one query.

    Every API call checks one, so it is plain data rather than three ORM objects; views that
    need the manager's or the key's full record load it on demand (``current_manager()``).
    """

    id: int
    api_key_id: int
    client_id: str
    scope: str
    issued_at: datetime
    expires_at: datetime
    key_revoked: bool
    manager_id: int
    username: str
    role: str
    # Read in the same query when the route's path names a property (see oauth.find_token):
    # whether the manager is linked to ``property_uid``.
    property_uid: int | None = None
    linked_to_property: bool = False

    @property
    def is_super(self) -> bool:
        return self.role == "super"

    # -- Authlib's TokenMixin --------------------------------------------------------------

    def check_client(self, client: ClientMixin) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        # A revoked token's row is deleted; a revoked key kills whatever rows remain.
        return self.key_revoked


class RateLimitCounter(Base):
    """Requests counted in the current window, per API key, when counters live in the database."""

    __tablename__ = "api_rate_limits"

    bucket: Mapped[str] = mapped_column(String(100), primary_key=True)
    window: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)


class IdempotentRequest(Base):
    """A write sent with an ``Idempotency-Key``, and the answer it got (see ``idempotency``).

    Written in the write's own transaction: the row exists if and only if the write committed
    (or answered an error, which changed nothing). ``status`` is None while the write runs.
    """

    __tablename__ = "api_idempotency_keys"

    api_key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of method, path, query, body
    status: Mapped[int | None] = mapped_column(Integer, default=None)
    headers: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
