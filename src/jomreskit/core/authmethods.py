"""The webhook auth-method contract. An auth-method plugin imports only this module (and markers).

A method declares its settings fields, checks a webhook's settings, and adds credentials to an
outgoing delivery request. webhooks_core stores the settings (secret ones encrypted), builds
and signs the request, then hands it to the method.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import requests
from authlib.integrations.requests_client import OAuthError
from authlib.integrations.requests_client.oauth2_session import OAuth2ClientAuth
from authlib.oauth2.client import OAuth2Client

from .errors import JomresKitError, ValidationError
from .urls import check_http_url

FORMATS = ("text", "password", "boolean", "select")


class AuthMethodError(JomresKitError):
    """An auth method could not get credentials (say, the token endpoint refused): the attempt
    fails with this message and is retried. Never put a secret in the message."""

    code = "authmethod_failed"


@dataclass(frozen=True)
class SettingField:
    """One setting of an auth method, enough to build a form and to validate input."""

    key: str
    title: str
    description: str = ""
    format: str = "text"  # text, password, boolean, select, or url (checked when saved)
    required: bool = False
    secret: bool = False
    choices: tuple[str, ...] = ()


class AuthMethod:
    """Base class of webhook auth methods; subclasses set ``name``, ``label`` and ``fields``."""

    name: ClassVar[str]
    label: ClassVar[str]
    fields: ClassVar[tuple[SettingField, ...]] = ()

    def clean_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``settings`` against the declared fields and return them normalised.

        Unknown keys and missing required ones are refused with a message naming the field.
        """
        known = {f.key: f for f in self.fields}
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise ValidationError(
                f"auth method {self.name!r} has no setting {', '.join(unknown)}"
                + (f"; it takes {', '.join(known)}" if known else "; it takes none"),
                code="invalid_setting",
            )
        cleaned: dict[str, Any] = {}
        for key, spec in known.items():
            value = settings.get(key)
            if spec.format == "boolean":
                value = _as_bool(key, value)
            elif value is not None:
                value = str(value).strip()
                if spec.format == "select" and value and value not in spec.choices:
                    raise ValidationError(
                        f"setting {key} must be one of {', '.join(spec.choices)}",
                        code="invalid_setting",
                    )
                if spec.format == "url" and value:
                    value = check_http_url(value, f"setting {key}", code="invalid_setting")
            if spec.required and value in (None, ""):
                raise ValidationError(
                    f"auth method {self.name!r} needs the setting {key} ({spec.title})",
                    code="missing_setting",
                )
            if value not in (None, ""):
                cleaned[key] = value
        return cleaned

    def authenticate(
        self, request: requests.PreparedRequest, settings: Mapping[str, Any], http: requests.Session
    ) -> None:
        """Add credentials to ``request`` (headers, usually).

        ``http`` is the sending thread's session: it obeys the same SSRF guard, timeouts and
        no-redirect rule as deliveries, so a method may fetch a token with it first.
        """

    def unauthorized(self, settings: Mapping[str, Any]) -> bool:
        """The endpoint answered 401. Drop cached credentials; return True to retry once now."""
        return False


def client_credentials_token(
    http: requests.Session,
    token_url: str,
    client_id: str,
    client_secret: str,
    scope: str | None = None,
    client_auth: str = "client_secret_basic",
    timeout: float | tuple[float, float] | None = None,
) -> tuple[str, float]:
    """An OAuth 2.0 client-credentials access token from ``token_url``, and its lifetime in
    seconds, taken by Authlib's client over ``http`` (so a delivery session's SSRF guard and
    timeouts apply). ``client_auth`` is client_secret_basic or client_secret_post.

    Raises AuthMethodError naming the status and the OAuth error, never the secret; a failed
    connection raises requests' own exception. Redirects are not followed.
    """
    client = _TokenClient(http, client_id=client_id, client_secret=client_secret,
                          token_endpoint_auth_method=client_auth, scope=scope or None)

    def refused(response: requests.Response) -> requests.Response:
        if response.status_code != 200:
            try:
                error = response.json().get("error")
            except (ValueError, AttributeError):
                error = None
            raise AuthMethodError(f"the token URL {token_url} answered HTTP "
                                  f"{response.status_code}"
                                  + (f" ({error})" if isinstance(error, str) else ""))
        return response

    client.register_compliance_hook("access_token_response", refused)
    try:
        answer = client.fetch_token(token_url, grant_type="client_credentials",
                                    timeout=timeout, allow_redirects=False)
    except (OAuthError, ValueError):  # a 200 that is an OAuth error, or not a JSON object
        answer = {}
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise AuthMethodError(f"the token URL {token_url} gave no access_token")
    try:
        lifetime = float(answer.get("expires_in") or 3600)
    except (TypeError, ValueError):
        lifetime = 3600.0
    return token, lifetime


class _TokenClient(OAuth2Client):
    """Authlib's OAuth 2.0 client over the caller's requests session (Authlib's own
    OAuth2Session is a session of its own, which would bypass the delivery guard)."""

    client_auth_class = OAuth2ClientAuth
    oauth_error_class = OAuthError
    SESSION_REQUEST_PARAMS = ("allow_redirects", "timeout")


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise ValidationError(f"setting {key} must be true or false", code="invalid_setting")
