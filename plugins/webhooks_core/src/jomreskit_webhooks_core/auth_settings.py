"""The one place that resolves a webhook's auth settings: stored, read back, shown.

Settings the auth method marks ``secret`` are kept out of the clear ``settings`` column and
stored together as one encrypted JSON object; listings show them masked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jomreskit import AuthMethod, ValidationError

if TYPE_CHECKING:
    from jomreskit import Kit

    from .models import Webhook

MASK = "********"


def authmethod(kit: Kit, name: str) -> AuthMethod:
    """The installed auth method ``name``, or a clear error naming those there are."""
    try:
        return kit.authmethods[name]
    except KeyError:
        known = ", ".join(sorted(kit.authmethods)) or "none installed"
        raise ValidationError(f"unknown auth method {name!r} (installed: {known})",
                              code="invalid_authmethod") from None


def store(kit: Kit, webhook: Webhook, method: AuthMethod, values: Mapping[str, Any]) -> None:
    """Check ``values`` with ``method`` and store them on ``webhook``, secrets encrypted."""
    cleaned = method.clean_settings(values)
    secret_keys = {f.key for f in method.fields if f.secret}
    webhook.settings = {k: v for k, v in cleaned.items() if k not in secret_keys}
    hidden = {k: v for k, v in cleaned.items() if k in secret_keys}
    webhook.secret_settings = kit.secret_box.encrypt(json.dumps(hidden)) if hidden else None


def resolve(kit: Kit, webhook: Webhook) -> dict[str, Any]:
    """Every setting in clear, for sending only: never log or show the result."""
    values = dict(webhook.settings or {})
    if webhook.secret_settings:
        values.update(json.loads(kit.secret_box.decrypt(webhook.secret_settings)))
    return values


def merged(kit: Kit, webhook: Webhook, method: AuthMethod, updates: Mapping[str, Any]
           ) -> dict[str, Any]:
    """The settings after ``updates``, keeping stored secrets that are left out or masked.

    A form that shows ``********`` for a secret can send it back unchanged; an empty value
    clears a setting.
    """
    current = resolve(kit, webhook) if webhook.authmethod == method.name else {}
    result = dict(current)
    for key, value in updates.items():
        if value == MASK and key in current:
            continue
        if value in (None, ""):
            result.pop(key, None)
        else:
            result[key] = value
    return result


def shown(kit: Kit, webhook: Webhook) -> dict[str, Any]:
    """The settings as every listing shows them: secrets replaced by ``********``."""
    values = dict(webhook.settings or {})
    if webhook.secret_settings:
        # Which secrets are set is not a secret; their values are.
        for key in json.loads(kit.secret_box.decrypt(webhook.secret_settings)):
            values[key] = MASK
    return values
