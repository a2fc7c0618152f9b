"""webhooks_core's settings: JOMRESKIT_WEBHOOK_* keys of the app config (or the environment)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jomreskit import SiteSetting

from . import guard

if TYPE_CHECKING:
    from jomreskit import Kit

SETTINGS = (
    SiteSetting("JOMRESKIT_WEBHOOK_CONCURRENCY", 8, "Attempts a worker makes at once."),
    SiteSetting("JOMRESKIT_WEBHOOK_ENDPOINT_CONCURRENCY", 4,
                "Of those, at most this many to one webhook."),
    SiteSetting("JOMRESKIT_WEBHOOK_HOST_CONCURRENCY", 8,
                "Of a worker's attempts, slow ones included, at most this many to one host "
                "(a URL's hostname and port), whichever webhooks they are for."),
    SiteSetting("JOMRESKIT_WEBHOOK_MANAGER_CONCURRENCY", 16,
                "Of a worker's attempts, slow ones included, at most this many to one "
                "manager's webhooks."),
    SiteSetting("JOMRESKIT_WEBHOOK_BREAKER_FAILURES", 5,
                "Failed attempts in a row (errors, timeouts, non-2xx) that open a webhook's "
                "circuit: no attempts for a cool-off, then one probe; 0: no breaker."),
    SiteSetting("JOMRESKIT_WEBHOOK_BREAKER_WINDOW", 60,
                "Seconds from the first of those failures within which the rest must come to "
                "count with it."),
    SiteSetting("JOMRESKIT_WEBHOOK_BREAKER_COOLOFF", 30,
                "Seconds an opened circuit waits before its probe; doubled after each failed "
                "probe, an hour at most."),
    SiteSetting("JOMRESKIT_WEBHOOK_CONNECT_TIMEOUT", 5.0, "Seconds to connect to a receiver."),
    SiteSetting("JOMRESKIT_WEBHOOK_TIMEOUT", 15.0,
                "Seconds for a whole delivery attempt, however slowly the receiver answers."),
    SiteSetting("JOMRESKIT_WEBHOOK_LEASE_SECONDS", 300,
                "How long a worker's claim on a delivery holds before another may take it."),
    SiteSetting("JOMRESKIT_WEBHOOK_DISABLE_AFTER_DAYS", 5,
                "A webhook failing this many days is disabled."),
    SiteSetting("JOMRESKIT_WEBHOOK_RETENTION_DAYS", 30,
                "Days finished deliveries and their attempt logs are kept."),
)
DEFAULTS: dict[str, Any] = {s.key: s.default for s in SETTINGS}


def get(kit: Kit, key: str) -> Any:
    value = kit.settings.get(key)
    return DEFAULTS[key] if value is None or value == "" else value


def number(kit: Kit, key: str) -> float:
    return float(get(kit, key))


def site_guard(kit: Kit) -> guard.Guard:
    """The SSRF guard with the site's ``JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS`` opened."""
    return guard.Guard(guard.parse_networks(kit.settings.get("JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS")))
