"""Pruning the feed beside `jomreskit serve`, hourly, as webhooks_core's worker prunes
deliveries: events stay exactly as long as deliveries."""

from __future__ import annotations

import logging

from jomreskit import Periodic
from jomreskit.db import utcnow

from . import feed, settings

log = logging.getLogger("jomreskit.events")

EVERY_SECONDS = 3600


class Pruner(Periodic):
    """Deletes events older than the retention, once an hour."""

    what = "events pruning"

    def round(self) -> None:
        count = feed.prune(self.kit, utcnow() - settings.retention(self.kit))
        if count:
            log.info("%d events older than the retention deleted", count)

    def every(self) -> float:
        return EVERY_SECONDS
