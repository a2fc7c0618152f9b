"""webhooks_core's settings: JOMRESKIT_WEBHOOK_* keys of the app config (or the environment)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import guard

if TYPE_CHECKING:
    from jomreskit import Kit

DEFAULTS: dict[str, Any] = {
    "JOMRESKIT_WEBHOOK_CONCURRENCY": 8,  # sending threads per worker
    "JOMRESKIT_WEBHOOK_CONNECT_TIMEOUT": 5.0,  # seconds to connect
    "JOMRESKIT_WEBHOOK_TIMEOUT": 15.0,  # seconds for a whole attempt
    "JOMRESKIT_WEBHOOK_LEASE_SECONDS": 300,  # how long a claim holds before others may retry
    "JOMRESKIT_WEBHOOK_DISABLE_AFTER_DAYS": 5,  # a webhook failing this long is disabled
    "JOMRESKIT_WEBHOOK_RETENTION_DAYS": 30,  # finished deliveries and attempt logs kept this long
}


def get(kit: Kit, key: str) -> Any:
    value = kit.settings.get(key)
    return DEFAULTS[key] if value is None or value == "" else value


def number(kit: Kit, key: str) -> float:
    return float(get(kit, key))


def site_guard(kit: Kit) -> guard.Guard:
    """The SSRF guard with the site's ``JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS`` opened."""
    return guard.Guard(guard.parse_networks(kit.settings.get("JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS")))
