"""When a failed delivery is tried again: the Standard Webhooks schedule, with jitter.

After the first attempt fails, the next ones follow 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
20 h and 24 h later (about three days in all, ten attempts); each delay is moved by up to
±20 % at random so that many deliveries failing together do not come back together.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

SCHEDULE = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600)
ATTEMPTS = len(SCHEDULE) + 1
JITTER = 0.2
LONGEST_RETRY_AFTER = 24 * 3600


def delay(attempts_made: int) -> float | None:
    """Seconds until the next attempt after ``attempts_made`` failed ones; None: give up."""
    if attempts_made >= ATTEMPTS:
        return None
    base = SCHEDULE[attempts_made - 1]
    return base * random.uniform(1 - JITTER, 1 + JITTER)


def retry_after(value: str | None, now: datetime) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from ``now``, bounded."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 1.0), LONGEST_RETRY_AFTER)
