"""__description__

A webhook auth method: each delivery to a webhook that uses it carries the partner's token in
an ``X-Partner-Token`` header, added after webhooks_core built and signed the request. It
imports nothing but the core (see register_authmethods in jomreskit's docs/plugin_hooks.md).
"""

from typing import Any

from jomreskit import AuthMethod, SettingField, hookimpl


class PartnerToken(AuthMethod):
    name = "__plugin__"
    label = "__description__"
    fields = (
        SettingField("token", "Partner token", "Given by the partner for this portal.",
                     format="password", required=True, secret=True),
        SettingField("sandbox", "Sandbox", "Send to the partner's test environment.",
                     format="boolean"),
    )

    def authenticate(self, request: Any, settings: dict[str, Any], http: Any) -> None:
        request.headers["X-Partner-Token"] = settings["token"]
        if settings.get("sandbox"):
            request.headers["X-Partner-Environment"] = "sandbox"


@hookimpl
def register_authmethods() -> list[AuthMethod]:
    return [PartnerToken()]
