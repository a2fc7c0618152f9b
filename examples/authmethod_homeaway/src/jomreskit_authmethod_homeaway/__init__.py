"""A HomeAway-style partner key: a webhook auth method as a distribution of its own.

The channel identifies a partner by an advertiser id and an API key, sent as headers, and
keeps a sandbox apart from production. Only the core is imported.
"""

from collections.abc import Mapping
from typing import Any

import requests

from jomreskit import AuthMethod, SettingField, hookimpl


class HomeAwayPartnerKey(AuthMethod):
    """Adds the partner's advertiser id and API key to every delivery."""

    name = "homeaway"
    label = "HomeAway-style partner key"
    fields = (
        SettingField("advertiser_id", "Advertiser id", "Your partner id, e.g. A-1234.",
                     required=True),
        SettingField("api_key", "API key", "The key the channel gave you.",
                     format="password", required=True, secret=True),
        SettingField("sandbox", "Sandbox", "Send to the channel's test system.",
                     format="boolean"),
    )

    def authenticate(self, request: requests.PreparedRequest, settings: Mapping[str, Any],
                     http: requests.Session) -> None:
        request.headers["X-HomeAway-Advertiser-Id"] = settings["advertiser_id"]
        request.headers["Authorization"] = f"HomeAway-Key {settings['api_key']}"
        if settings.get("sandbox"):
            request.headers["X-HomeAway-Environment"] = "sandbox"


@hookimpl
def register_authmethods() -> list[AuthMethod]:
    return [HomeAwayPartnerKey()]
