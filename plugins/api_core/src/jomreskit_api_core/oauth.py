"""The OAuth2 client-credentials server (Authlib) and the bearer-token check of every API call.

Authlib does the protocol: client authentication (client_secret_basic and client_secret_post),
the grant, token generation, RFC 7009 revocation and RFC 7662 introspection, and parsing the
``Authorization`` header. This module supplies storage (hashed, in our tables) and maps Authlib's
resource errors onto the API's error shape. The OAuth endpoints themselves answer as RFC 6749
says (``{"error": "invalid_client", "error_description": ...}``), which OAuth2 client libraries
expect.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import timedelta
from time import monotonic
from typing import TYPE_CHECKING, Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    ClientCredentialsGrant,
    InvalidClientError,
    MissingAuthorizationError,
    OAuth2Request,
    UnsupportedTokenTypeError,
)
from authlib.oauth2.rfc6749.authenticate_client import (
    authenticate_client_secret_basic,
    authenticate_client_secret_post,
)
from authlib.oauth2.rfc6749.requests import JsonRequest
from authlib.oauth2.rfc6750 import (
    BearerTokenGenerator,
    BearerTokenValidator,
    InsufficientScopeError,
    InvalidTokenError,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, Response
from flask import request as flask_request
from sqlalchemy import bindparam, delete, insert, select

from jomreskit.db import CompiledStatement, UTCDateTime, driver_timestamp, utcnow
from jomreskit.domain import ManagerProperty, User

from . import grants
from .api import ApiError, current_call, request_connection
from .keys import EXPIRED_TOKENS
from .models import (
    TOKEN_ENDPOINT_AUTH_METHODS,
    AccessToken,
    ApiKey,
    KeyClient,
    TokenGrant,
    digest,
    effective_scopes,
)

if TYPE_CHECKING:
    from jomreskit import Kit

log = logging.getLogger("jomreskit.api")

REALM = "jomreskit"
DEFAULT_TOKEN_LIFETIME = 3600
MAX_TOKEN_LENGTH = 512  # longer bearer strings are not ours: answered without a query

# Passed as "the request" by POST <prefix>/: Jomres' token endpoint took a form with just
# client_id and client_secret, so a missing grant_type means client_credentials there.
JOMRES_ROOT = object()


# Every API call runs it: built once, on the tables (no ORM entities to load), with the
# token's hash bound at execution.
_TOKENS, _KEYS, _USERS = AccessToken.__table__, ApiKey.__table__, User.__table__
GRANT_QUERY = (
    select(_TOKENS.c.id, _TOKENS.c.api_key_id, _KEYS.c.client_id, _TOKENS.c.scope,
           _TOKENS.c.issued_at, _TOKENS.c.expires_at, _KEYS.c.revoked_at.is_not(None),
           _USERS.c.id, _USERS.c.username, _USERS.c.role)
    .join(_KEYS, _TOKENS.c.api_key_id == _KEYS.c.id)
    .join(_USERS, _KEYS.c.manager_id == _USERS.c.id)
    .where(_TOKENS.c.token_hash == bindparam("token_hash"))
)
# What the token endpoints read of an API key (Authlib's client): its active row and its
# manager's role, which limits the scopes new tokens get.
CLIENT_QUERY = (
    select(_KEYS.c.id, _KEYS.c.secret_hash, _KEYS.c.scopes, _USERS.c.role)
    .join(_USERS, _KEYS.c.manager_id == _USERS.c.id)
    .where(_KEYS.c.client_id == bindparam("client_id"), _KEYS.c.revoked_at.is_(None))
)
# A token is stored only while its key still has the secret it was asked for with and is not
# revoked, as the key is at that moment: a key rotated or revoked by another process since this
# one read it (see ``grants``) stores nothing, and the request is refused. FOR SHARE (PostgreSQL)
# waits for a rotation under way, whose DELETE of the key's tokens otherwise could not see a
# token stored meanwhile.
TOKEN_INSERT = insert(_TOKENS).from_select(
    ["token_hash", "api_key_id", "scope", "issued_at", "expires_at"],
    select(bindparam("token_hash", type_=_TOKENS.c.token_hash.type), _KEYS.c.id,
           bindparam("scope", type_=_TOKENS.c.scope.type),
           bindparam("issued_at", type_=UTCDateTime()),
           bindparam("expires_at", type_=UTCDateTime()))
    .where(_KEYS.c.id == bindparam("api_key_id"),
           _KEYS.c.secret_hash == bindparam("secret_hash"), _KEYS.c.revoked_at.is_(None))
    .with_for_update(read=True),
).inline()  # no RETURNING of the id
PURGE_EVERY = 60.0  # seconds between two sweeps of expired tokens by one process's token issue
# GRANT_QUERY with the manager's link to the property a route's path names: a property route
# then costs one query for the token and the access check together.
_LINKS = ManagerProperty.__table__
GRANT_AND_LINK_QUERY = GRANT_QUERY.add_columns(
    select(_LINKS.c.manager_id)
    .where(_LINKS.c.manager_id == _USERS.c.id,
           _LINKS.c.property_uid == bindparam("property_uid"))
    .exists()
)


def _token_grant(row: Any, **link: Any) -> TokenGrant:
    """A TokenGrant of a GRANT_QUERY row as the driver returns it (times as SQLite's text,
    the revoked flag as SQLite's 0 or 1)."""
    (token_id, key_id, client_id, scope, issued_at, expires_at, revoked, manager_id, username,
     role) = row
    return TokenGrant(token_id, key_id, client_id, scope, driver_timestamp(issued_at),
                      driver_timestamp(expires_at), bool(revoked), manager_id, username, role,
                      **link)


class _Payload(FlaskOAuth2Payload):
    def __init__(self, request: Any, default_grant_type: str | None) -> None:
        super().__init__(request)
        self._default_grant_type = default_grant_type

    @property
    def grant_type(self) -> str | None:
        return self.data.get("grant_type") or self._default_grant_type


class _Request(FlaskOAuth2Request):
    def __init__(self, request: Any, require_https: bool, default_grant_type: str | None) -> None:
        # Authlib refuses plain http except on loopback; a site that terminates TLS elsewhere
        # without telling Flask (ProxyFix) can turn the check off. The URI serves that check
        # alone, so it is built from the scheme and host, not Werkzeug's full (quoted) URL.
        scheme = request.scheme if require_https else "https"
        uri = f"{scheme}://{request.host}{request.path}"
        OAuth2Request.__init__(self, method=request.method, uri=uri)
        # Set after: Authlib's ``headers or {}`` would count Werkzeug's headers, which walks
        # the whole WSGI environ.
        self.headers = request.headers
        self._request = request
        self.payload = _Payload(request, default_grant_type)


class _Server(AuthorizationServer):
    def __init__(self, oauth: OAuth) -> None:
        super().__init__()
        self.oauth = oauth

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return _Request(flask_request._get_current_object(), self.oauth.require_https,
                        "client_credentials" if request is JOMRES_ROOT else None)


def _client_secret_basic(query_client: Any, request: OAuth2Request) -> KeyClient | None:
    # Authlib's own, except that a malformed Basic header ("Basic \t", credentials that are not
    # UTF-8) fails authentication instead of raising ValueError (a 500).
    try:
        return authenticate_client_secret_basic(query_client, request)
    except ValueError:  # UnicodeDecodeError is one
        return None


class _ClientCredentialsGrant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(TOKEN_ENDPOINT_AUTH_METHODS)


class _Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = list(TOKEN_ENDPOINT_AUTH_METHODS)

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenGrant | None:
        return self.server.oauth.find_token(token_string)

    def revoke_token(self, token: TokenGrant, request: Any) -> None:
        kit = self.server.oauth.kit
        with kit.transaction() as session:
            session.execute(delete(AccessToken).where(AccessToken.id == token.id))


class _Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = list(TOKEN_ENDPOINT_AUTH_METHODS)

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenGrant | None:
        return self.server.oauth.find_token(token_string)

    def check_permission(self, token: TokenGrant, client: KeyClient, request: Any) -> bool:
        # A key may look at its own tokens only.
        return token.api_key_id == client.id

    def introspect_token(self, token: TokenGrant) -> dict[str, Any]:
        return {
            "active": True,
            "client_id": token.client_id,
            "token_type": "Bearer",
            "scope": token.scope,
            "sub": str(token.manager_id),
            "username": token.username,
            "iat": int(token.issued_at.timestamp()),
            "exp": int(token.expires_at.timestamp()),
        }


class _BearerValidator(BearerTokenValidator):
    def __init__(self, oauth: OAuth) -> None:
        super().__init__(realm=REALM)
        self.oauth = oauth

    def authenticate_token(self, token_string: str) -> TokenGrant | None:
        return self.oauth.find_token(token_string, remembered=True)

    def validate_token(self, token: TokenGrant | None, scopes: list[str] | None,
                       request: Any) -> None:
        if token is None:
            raise InvalidTokenError("The access token is unknown, expired or revoked.",
                                    realm=self.realm)
        if token.is_expired():
            raise InvalidTokenError("The access token has expired.", realm=self.realm)
        if token.is_revoked():
            raise InvalidTokenError("The API key of this access token was revoked.",
                                    realm=self.realm)
        if self.scope_insufficient(token.get_scope(), scopes):
            raise InsufficientScopeError()


class OAuth:
    """The site's OAuth2 server and resource protector, with storage in ``kit``'s database."""

    def __init__(self, kit: Kit, app: Flask) -> None:
        self.kit = kit
        self.lifetime = int(kit.settings.get("JOMRESKIT_API_TOKEN_LIFETIME") or
                            DEFAULT_TOKEN_LIFETIME)
        self.require_https = bool(kit.settings.get("JOMRESKIT_API_REQUIRE_HTTPS", True))
        self.server = _Server(self)
        self.server.init_app(app, query_client=self.query_client, save_token=self.save_token)
        # 256 random bits, URL-safe, from one read of the system's random source (Authlib's
        # generate_token draws each character separately).
        self.server.register_token_generator("default", BearerTokenGenerator(
            lambda **_: secrets.token_urlsafe(32), None, lambda client, grant_type: self.lifetime))
        self.server.register_client_auth_method(
            "client_secret_basic", self._read_again_if_refused(_client_secret_basic))
        self.server.register_client_auth_method(
            "client_secret_post", self._read_again_if_refused(authenticate_client_secret_post))
        self.server.register_grant(_ClientCredentialsGrant)
        self.server.register_endpoint(_Revocation)
        self.server.register_endpoint(_Introspection)
        # The token check's queries, compiled once for the site's database.
        dialect = kit.engine.dialect
        self._grant = CompiledStatement(GRANT_QUERY, dialect)
        self._grant_and_link = CompiledStatement(GRANT_AND_LINK_QUERY, dialect)
        self._client = CompiledStatement(CLIENT_QUERY, dialect)
        self._insert = CompiledStatement(TOKEN_INSERT, dialect)
        self._purge = CompiledStatement(EXPIRED_TOKENS, dialect)
        grants.watch(kit.engine)
        self._next_purge = 0.0  # time.monotonic() of the next sweep of expired tokens
        ttl = float(kit.settings.get("JOMRESKIT_API_TOKEN_CACHE_TTL", grants.DEFAULT_TTL))
        self.grants: grants.Remembered[tuple[str, int | None], TokenGrant] = (
            grants.Remembered(ttl))
        self.clients: grants.Remembered[str, KeyClient] = grants.Remembered(ttl)
        self.protector = ResourceProtector()
        self.protector.register_token_validator(_BearerValidator(self))

    # -- storage ---------------------------------------------------------------------------

    def query_client(self, client_id: str, fresh: bool = False) -> KeyClient | None:
        """The active key ``client_id`` names, as read in the last JOMRESKIT_API_TOKEN_CACHE_TTL
        seconds or now (see ``grants``); ``fresh``: read now."""
        if not client_id or len(client_id) > 64 or "\x00" in client_id:
            return None  # not one of ours (and PostgreSQL refuses NUL in text)
        client = None if fresh else self.clients.get(client_id)
        if client is not None:
            return client
        read_at = grants.generation()
        row = self._client.first(request_connection(), {"client_id": client_id})
        if row is None:
            return None
        key_id, secret_hash, scopes, role = row
        if isinstance(scopes, str):  # SQLite's driver hands JSON over as text
            scopes = json.loads(scopes)
        client = KeyClient(key_id, client_id, secret_hash,
                           tuple(effective_scopes(scopes, role, self.kit.scopes)))
        self.clients.remember(client_id, client, read_at)
        return client

    def _read_again_if_refused(self, method: Any) -> Any:
        """Authlib's client authentication ``method``, tried once more on the key read now
        when the remembered one refuses the secret: it may be the key as it was before another
        process rotated it, and the new secret works from the moment the rotation commits."""

        def authenticate(query_client: Any, request: OAuth2Request) -> KeyClient | None:
            client = method(query_client, request)
            if client is None:
                client = method(lambda client_id: self.query_client(client_id, fresh=True),
                                request)
            return client

        return authenticate

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        # One INSERT, committed by itself, and only while the key is as it was read.
        now = utcnow()
        connection = request_connection()
        # Expired tokens go as new ones come, swept at most every PURGE_EVERY seconds: a
        # DELETE on every issue would be one more write per token for rows that harm nobody
        # meanwhile (an expired token is refused whether its row is there or not).
        clock = monotonic()
        if clock >= self._next_purge:
            self._next_purge = clock + PURGE_EVERY
            self._purge.run(connection, {"now": now})
        client: KeyClient = request.client
        stored = self._insert.run(connection, {
            "token_hash": digest(token["access_token"]), "api_key_id": client.id,
            "secret_hash": client.secret_hash, "scope": token.get("scope", ""),
            "issued_at": now, "expires_at": now + timedelta(seconds=int(token["expires_in"])),
        })
        if not stored:  # rotated or revoked since it was read (by another process)
            self.clients.forget(client.client_id)
            raise InvalidClientError(description="The client secret is no longer valid.",
                                     status_code=401)

    def find_token(self, token_string: str, remembered: bool = False) -> TokenGrant | None:
        """The grant of ``token_string``; with the manager's link to the request's property
        when the API request's path names one.

        ``remembered``: a grant read in the last JOMRESKIT_API_TOKEN_CACHE_TTL seconds will do
        (the bearer check of API calls; see ``grants``). Revocation and introspection read the
        database each time.
        """
        if not token_string or len(token_string) > MAX_TOKEN_LENGTH:
            return None
        token_hash = digest(token_string)
        call = current_call()
        property_uid = None if call is None else call.property_uid
        if remembered:
            grant = self.grants.get((token_hash, property_uid))
            if grant is not None:
                return grant
        read_at = grants.generation()
        grant = self._read_grant(token_hash, property_uid)
        if remembered and grant is not None:
            self.grants.remember((token_hash, property_uid), grant, read_at)
        return grant

    def _read_grant(self, token_hash: str, property_uid: int | None) -> TokenGrant | None:
        # As SQL compiled at start-up (see _grant).
        if property_uid is None:
            row = self._grant.first(request_connection(), {"token_hash": token_hash})
            return None if row is None else _token_grant(row)
        row = self._grant_and_link.first(
            request_connection(), {"token_hash": token_hash, "property_uid": property_uid})
        if row is None:
            return None
        return _token_grant(row[:-1], property_uid=property_uid,
                            linked_to_property=bool(row[-1]))

    # -- endpoints -------------------------------------------------------------------------

    def token_response(self, jomres_root: bool = False) -> Response:
        """Answer a token request (``POST /oauth/token``, or Jomres' ``POST /``)."""
        # Each statement its own transaction (``request_connection``): reading the key, then
        # one INSERT of the token (and now and then one DELETE of expired ones). No
        # BEGIN and COMMIT, and no write lock held on SQLite while the secret is checked.
        try:
            return self.server.create_token_response(JOMRES_ROOT if jomres_root else None)
        except OAuth2Error as error:  # raised before Authlib's own handling (insecure transport)
            return self.server.handle_error_response(None, error)

    def endpoint_response(self, name: str) -> Response:
        """Answer a revocation or introspection request."""
        try:
            return self.server.create_endpoint_response(name)
        except OAuth2Error as error:
            return self.server.handle_error_response(None, error)

    # -- protecting API routes -------------------------------------------------------------

    def authenticate(self, scope: str | None) -> TokenGrant:
        """The request's valid token holding ``scope``, or ApiError 401/403."""
        try:
            # Bearer validation reads only the Authorization header: a plain request object
            # holding just that spares Authlib's Flask wrapper working out the full URL, and
            # counting Werkzeug's headers (a walk of the whole WSGI environ), on every API call.
            current = flask_request._get_current_object()
            authorization = current.environ.get("HTTP_AUTHORIZATION")
            request = JsonRequest(current.method, current.path,
                                  None if authorization is None
                                  else {"Authorization": authorization})
            return self.protector.validate_request([scope] if scope else None, request)
        except MissingAuthorizationError:
            raise ApiError(401, "missing_token",
                           "this endpoint needs an access token: Authorization: Bearer <token>",
                           {"WWW-Authenticate": f'Bearer realm="{REALM}"'}) from None
        except UnsupportedTokenTypeError:
            raise ApiError(401, "invalid_token",
                           "the Authorization header must be: Bearer <token>",
                           _bearer_challenge("invalid_token", "Malformed Authorization header."),
                           ) from None
        except InvalidTokenError as error:
            description = error.get_error_description()
            raise ApiError(401, "invalid_token", description[0].lower() + description[1:],
                           _bearer_challenge("invalid_token", description)) from None
        except InsufficientScopeError:
            raise ApiError(403, "insufficient_scope",
                           f"this API key's token does not hold the scope {scope!r}",
                           _bearer_challenge("insufficient_scope",
                                             f"The token needs scope {scope}.", scope)) from None
        except OAuth2Error as error:
            raise ApiError(error.status_code or 400, error.error or "invalid_request",
                           error.get_error_description() or "invalid request") from None


def _bearer_challenge(error: str, description: str, scope: str | None = None) -> dict[str, str]:
    challenge = f'Bearer realm="{REALM}", error="{error}", error_description="{description}"'
    if scope:
        challenge += f', scope="{scope}"'
    return {"WWW-Authenticate": challenge}
