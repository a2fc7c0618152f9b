"""Availability and rates, written back through the API.

A channel manager that sold a room elsewhere closes its nights here (Jomres' black bookings),
opens them again, reads a property's availability calendar, and pushes room types' nightly
prices. Scopes ``availability_get``/``availability_write`` and ``rates_get``/``rates_write``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from jomreskit import Scope, hookimpl

from . import (
    availability,
    models,  # noqa: F401 - the rates index, declared on the shared metadata
    rates,
)

if TYPE_CHECKING:
    from jomreskit_api_core import Api

__version__ = "0.1.0"

AVAILABILITY_GET, AVAILABILITY_WRITE = "availability_get", "availability_write"
RATES_GET, RATES_WRITE = "rates_get", "rates_write"


@hookimpl
def register_scopes() -> list[Scope]:
    return [
        Scope(AVAILABILITY_GET, "Read the availability calendar of the manager's properties"),
        Scope(AVAILABILITY_WRITE, "Close and open rooms' nights at the manager's properties"),
        Scope(RATES_GET, "Read the nightly rates of the manager's properties"),
        Scope(RATES_WRITE, "Set the nightly rates of the manager's properties"),
    ]


@hookimpl
def register_api_routes(api: Api) -> None:
    availability.register(api, AVAILABILITY_GET, AVAILABILITY_WRITE)
    rates.register(api, RATES_GET, RATES_WRITE)


@hookimpl
def register_migrations() -> str:
    return str(Path(__file__).parent / "migrations")
