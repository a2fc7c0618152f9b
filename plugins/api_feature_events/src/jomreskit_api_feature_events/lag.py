"""How far behind each API key reading the feed is, as a Prometheus metric read from the
database when scraped (the same from every process of the site).

Counted as the console's App Key Management page counts it (``key_column.positions``): the
events after the key's acknowledged position that its manager may see, up to ``SCAN`` (past
that the gauge says ``SCAN + 1``); and how long ago the key acknowledged. One series per key
that has acknowledged a position: keys are few, and their ids say nothing secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select

from jomreskit.db import utcnow

from .key_column import SCAN, positions
from .models import AcknowledgedCursor

if TYPE_CHECKING:
    from jomreskit import Kit


class FeedLag(Collector):
    """``jomreskit_event_feed_lag_events`` and ``jomreskit_event_feed_acknowledged_age_seconds``."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    def describe(self) -> list[Any]:
        return []  # known only by reading the database

    def collect(self) -> Iterator[Any]:
        lag = GaugeMetricFamily(
            "jomreskit_event_feed_lag_events", "Events after an API key's acknowledged "
            f"position that its manager may read (counted up to {SCAN}; {SCAN + 1}: more).",
            labels=["api_key_id"])
        age = GaugeMetricFamily(
            "jomreskit_event_feed_acknowledged_age_seconds", "Seconds since an API key last "
            "acknowledged a position of the event feed.", labels=["api_key_id"])
        now = utcnow()
        with self.kit.app.app_context():
            try:
                session = self.kit.session()
                acknowledged = dict(session.execute(select(AcknowledgedCursor.api_key_id,
                                                           AcknowledgedCursor.acknowledged_at)).all())
                found = positions(self.kit, list(acknowledged))
            finally:
                self.kit.session.remove()
        for api_key_id, _event_id, behind, more, _its_own in found:
            lag.add_metric([str(api_key_id)], SCAN + 1 if more else behind)
            age.add_metric([str(api_key_id)],
                           max(0.0, (now - acknowledged[api_key_id]).total_seconds()))
        yield from (lag, age)
