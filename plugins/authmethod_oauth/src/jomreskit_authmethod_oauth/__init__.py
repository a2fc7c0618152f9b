"""Webhook auth method oauth: a client-credentials bearer token from the receiving service.

Before sending, the method takes a token from the service's token URL with its client id
and secret (OAuth 2.0 client-credentials grant), keeps it until shortly before it expires,
and sends the event with ``Authorization: Bearer <token>``. When the service answers 401, the
token is dropped and the event is sent once more with a fresh one.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from typing import Any

import requests

from jomreskit import AuthMethod, SettingField, client_credentials_token, hookimpl

CLIENT_AUTH = ("client_secret_basic", "client_secret_post")
# A token is renewed this long before it says it expires, so it does not lapse in flight.
EARLY = 30.0


class OAuthClientCredentials(AuthMethod):
    """Bearer tokens from the receiver's OAuth 2.0 token endpoint, cached per credentials."""

    name = "oauth"
    label = "OAuth 2.0 client credentials"
    fields = (
        SettingField("client_id", "Client id", "Issued by the receiving service.",
                     required=True),
        SettingField("client_secret", "Client secret",
                     "Issued by the receiving service; stored encrypted, never shown in full.",
                     format="password", required=True, secret=True),
        SettingField("token_url", "Token URL",
                     "The receiving service's OAuth 2.0 token endpoint.", format="url",
                     required=True),
        SettingField("scope", "Scope", "Space-separated scopes to ask for (optional)."),
        SettingField("client_auth", "Client authentication",
                     "How the client id and secret are sent to the token URL "
                     "(default client_secret_basic).", format="select", choices=CLIENT_AUTH),
    )

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def authenticate(self, request: requests.PreparedRequest, settings: Mapping[str, Any],
                     http: requests.Session) -> None:
        request.headers["Authorization"] = f"Bearer {self.token(settings, http)}"

    def unauthorized(self, settings: Mapping[str, Any]) -> bool:
        self._tokens.pop(_key(settings), None)
        return True

    def token(self, settings: Mapping[str, Any], http: requests.Session) -> str:
        """A valid token for these credentials: the cached one, or a new one."""
        key = _key(settings)
        cached = self._tokens.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one fetch per credentials at a time; the others use its result
            cached = self._tokens.get(key)
            if cached and cached[1] > time.monotonic():
                return cached[0]
            token, lifetime = self._fetch(settings, http)
            self._tokens[key] = (token, time.monotonic() + max(lifetime - EARLY, lifetime / 2))
            return token

    def _fetch(self, settings: Mapping[str, Any], http: requests.Session) -> tuple[str, float]:
        return client_credentials_token(
            http, settings["token_url"], settings["client_id"], settings["client_secret"],
            scope=settings.get("scope"),
            client_auth=settings.get("client_auth") or "client_secret_basic")


def _key(settings: Mapping[str, Any]) -> str:
    # The secret is part of the key (a new secret needs a new token) but only as a digest.
    parts = [str(settings.get(k) or "") for k in ("token_url", "client_id", "client_secret",
                                                  "scope", "client_auth")]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@hookimpl
def register_authmethods() -> list[AuthMethod]:
    return [OAuthClientCredentials()]
