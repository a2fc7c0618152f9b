"""The feed's settings: how long events are kept, and the longest long poll."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jomreskit import Kit

# The same key and default as webhooks_core's deliveries: events are kept exactly as long.
RETENTION_KEY = "JOMRESKIT_WEBHOOK_RETENTION_DAYS"
RETENTION_DAYS = 30
MAX_WAIT = 30  # seconds a GET /events?wait= may hold
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def retention(kit: Kit) -> timedelta:
    """How long events stay readable in the feed."""
    value = kit.settings.get(RETENTION_KEY)
    return timedelta(days=float(RETENTION_DAYS if value in (None, "") else value))
