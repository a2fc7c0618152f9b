"""Webhook auth method none: no credentials, as Jomres sent its plain webhooks.

The request is still signed (``webhook-signature``), so the receiver can check it came from
the site.
"""

from __future__ import annotations

import requests

from jomreskit import AuthMethod, hookimpl


class NoAuth(AuthMethod):
    """Adds nothing to the request."""

    name = "none"
    label = "No authentication"
    fields = ()

    def authenticate(self, request: requests.PreparedRequest, settings: object,
                     http: requests.Session) -> None:
        return None


@hookimpl
def register_authmethods() -> list[AuthMethod]:
    return [NoAuth()]
