"""Pruning the feed beside `jomreskit serve`, hourly, as webhooks_core's worker prunes
deliveries: events stay exactly as long as deliveries."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from jomreskit.db import utcnow

from . import feed, settings

if TYPE_CHECKING:
    from jomreskit import Kit

log = logging.getLogger("jomreskit.events")

EVERY_SECONDS = 3600


class Pruner:
    """A thread that deletes events older than the retention, once an hour."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="jomreskit-events-pruner",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.kit.app.app_context():
                try:
                    count = feed.prune(self.kit, utcnow() - settings.retention(self.kit))
                    if count:
                        log.info("%d events older than the retention deleted", count)
                except Exception as exc:  # the next round tries again
                    log.warning("pruning events failed: %s", exc)
                finally:
                    self.kit.session.remove()
            self._stop.wait(EVERY_SECONDS)
