"""A thread doing one round of work now and then, for a plugin's ``background_services``."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .kit import Kit

log = logging.getLogger("jomreskit")


class Periodic:
    """Runs ``round()`` in the app's context, then waits ``every()`` seconds, until stopped.

    A subclass says what a round does (``round``), how long to wait (``every``, read after each
    round so a changed setting takes effect) and what the work is called (``what``: its
    thread's name and its log lines). A round that fails is logged and the next one tries
    again; the session is removed after each, so no round holds a connection while it waits.
    """

    what = "periodic work"

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def round(self) -> None:
        """One round of the work."""
        raise NotImplementedError

    def every(self) -> float:
        """Seconds between the end of a round and the next."""
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="jomreskit-" + self.what.replace(" ", "-"))
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.kit.app.app_context():
                try:
                    self.round()
                except Exception as exc:  # the next round tries again
                    log.warning("%s failed: %s", self.what, exc)
                finally:
                    self.kit.session.remove()
                every = self.every()
            self._stop.wait(every)
