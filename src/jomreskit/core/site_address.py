"""The site's public address as a process can know it: JOMRESKIT_BASE_URL, or failing that
the address `jomreskit serve` recorded in the database when it started (so a worker or a
command on another machine knows it too)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from .db import autocommit_options, utcnow
from .domain.models import SiteAddress

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

REREAD_SECONDS = 60.0  # how long a process trusts the recorded address it read


def record(engine: Engine, url: str) -> None:
    """Say where the site is, for the site's other processes (`jomreskit serve` at start)."""
    with engine.begin() as connection:
        connection.execute(delete(SiteAddress))
        connection.execute(insert(SiteAddress).values(id=1, url=url, recorded_at=utcnow()))


class SiteAddressReader:
    """JOMRESKIT_BASE_URL when set, else the recorded address, re-read now and then."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._recorded: str | None = None
        self._read_at = float("-inf")

    def __call__(self, configured: str | None) -> str | None:
        if configured:
            return configured
        with self._lock:
            if time.monotonic() - self._read_at >= REREAD_SECONDS:
                self._recorded = self._read()
                self._read_at = time.monotonic()
            return self._recorded

    def _read(self) -> str | None:
        try:
            with self.engine.connect().execution_options(
                    **autocommit_options(self.engine)) as connection:
                return connection.scalar(select(SiteAddress.url).where(SiteAddress.id == 1))
        except SQLAlchemyError:
            return None
