"""The handover's settings: how long a booking may wait unacknowledged, how often to look."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from jomreskit import SiteSetting

if TYPE_CHECKING:
    from jomreskit import Kit

DELAY_KEY = "JOMRESKIT_HANDOVER_ALARM_MINUTES"
DELAY_MINUTES = 30  # as Booking.com's e-mail to the property
CHECK_KEY = "JOMRESKIT_HANDOVER_CHECK_SECONDS"
CHECK_SECONDS = 60
# The same key and default as webhooks_core's deliveries and the event feed's events.
RETENTION_KEY = "JOMRESKIT_WEBHOOK_RETENTION_DAYS"
RETENTION_DAYS = 30

SETTINGS = [
    SiteSetting(DELAY_KEY, DELAY_MINUTES,
                "Minutes a booking's revision may wait for an acknowledgement by a key with "
                "`bookings_handover` before `booking_unacknowledged` fires for it (once)."),
    SiteSetting(CHECK_KEY, CHECK_SECONDS,
                "Seconds between two looks for unacknowledged bookings by `jomreskit serve` "
                "(`jomreskit handover check` looks once)."),
]


def delay(kit: Kit) -> timedelta:
    """How long a revision may stay unacknowledged before its alarm."""
    return timedelta(minutes=float(_value(kit, DELAY_KEY, DELAY_MINUTES)))


def check_every(kit: Kit) -> float:
    """Seconds between two checks in `jomreskit serve`."""
    return max(0.05, float(_value(kit, CHECK_KEY, CHECK_SECONDS)))


def _value(kit: Kit, key: str, default: float) -> float | str:
    value = kit.settings.get(key)
    return default if value in (None, "") else value


def retention(kit: Kit) -> timedelta:
    """How long revisions (and their acknowledgements) are kept."""
    return timedelta(days=float(_value(kit, RETENTION_KEY, RETENTION_DAYS)))
