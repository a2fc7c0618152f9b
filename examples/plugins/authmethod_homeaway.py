"""A third party's webhook auth method, as a single-file plugin: a HomeAway-style partner key.

Some remote services want neither HTTP Basic nor OAuth2 but credentials of their own. Say a
holiday-rental channel identifies each partner with an advertiser id and an API key, sent as
two headers, and keeps a sandbox apart from production. An auth method is all it takes; the
core and the other plugins stay as they are. This file imports only ``jomreskit`` (the
auth-method contract lives in the core), so it works on any site with webhooks_core.

To use it: copy it into the plugins folder (``<instance>/plugins``), run
``jomreskit plugins rebuild``, then

    jomreskit webhooks create --manager manager --url https://partner.example/hooks \\
        --authmethod homeaway --setting advertiser_id=A-1234 --setting api_key=... --json

webhooks_core keeps ``api_key`` encrypted (it is ``secret``), never shows it back in full,
signs every delivery as usual and then calls ``authenticate`` to add the headers below.
A plugin distribution does the same from its own package, declared under the ``jomreskit``
entry-point group in its pyproject.toml.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from jomreskit import AuthMethod, SettingField, hookimpl

core_version = ">=0.1"


class HomeAwayPartnerKey(AuthMethod):
    """Adds the partner's advertiser id and API key as headers to every delivery."""

    name = "homeaway"
    label = "HomeAway-style partner key"
    fields = (
        SettingField("advertiser_id", "Advertiser id",
                     "Your partner id at the channel, e.g. A-1234.", required=True),
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
