"""Webhook auth method basic: HTTP Basic credentials (``Authorization: Basic ...``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from requests.auth import HTTPBasicAuth

from jomreskit import AuthMethod, SettingField, hookimpl


class BasicAuth(AuthMethod):
    """Sends the username and password in an ``Authorization: Basic`` header."""

    name = "basic"
    label = "HTTP Basic authentication"
    fields = (
        SettingField("username", "Username", "The user name the receiving service expects.",
                     required=True),
        SettingField("password", "Password", "Stored encrypted; never shown again in full.",
                     format="password", required=True, secret=True),
    )

    def authenticate(self, request: requests.PreparedRequest, settings: Mapping[str, Any],
                     http: requests.Session) -> None:
        HTTPBasicAuth(settings["username"], settings["password"])(request)


@hookimpl
def register_authmethods() -> list[AuthMethod]:
    return [BasicAuth()]
