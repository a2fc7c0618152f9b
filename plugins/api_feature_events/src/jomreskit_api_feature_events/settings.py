"""The feed's settings: how long events are kept, the longest long poll, and how many long
polls may wait at once."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jomreskit import Kit

# The same key and default as webhooks_core's deliveries: events are kept exactly as long.
RETENTION_KEY = "JOMRESKIT_WEBHOOK_RETENTION_DAYS"
RETENTION_DAYS = 30
MAX_WAIT = 30  # seconds a GET /events?wait= may hold
WAITING_PER_KEY_KEY = "JOMRESKIT_EVENTS_WAITING_PER_KEY"
WAITING_PER_KEY = 2
WAITING_KEY = "JOMRESKIT_EVENTS_WAITING"
# Half of `jomreskit serve`'s default 8 threads: the other half answers everything else.
WAITING = 4
WAITING_RETRY_AFTER = 5  # seconds a long poll refused for want of room is told to wait
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def retention(kit: Kit) -> timedelta:
    """How long events stay readable in the feed."""
    value = kit.settings.get(RETENTION_KEY)
    return timedelta(days=float(RETENTION_DAYS if value in (None, "") else value))


def waiting_caps(kit: Kit) -> tuple[int, int]:
    """(per API key, in all): how many long polls may wait at once in one server process."""
    return (int(kit.settings.get(WAITING_PER_KEY_KEY, WAITING_PER_KEY)),
            int(kit.settings.get(WAITING_KEY, WAITING)))
