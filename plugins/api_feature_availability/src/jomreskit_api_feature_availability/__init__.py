"""Availability and rates, written back through the API.

A channel manager that sold a room elsewhere closes its nights here (Jomres' black bookings),
opens them again, reads a property's availability calendar, pushes room types' nightly
prices and stay restrictions (refused bookings that break them). Scopes
``availability_get``/``availability_write``, ``rates_get``/``rates_write`` and
``restrictions_get``/``restrictions_write``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jomreskit import EventType, Scope, hookimpl

from . import (
    availability,
    bulk,
    models,  # noqa: F401 - the rates index and restrictions, declared on the shared metadata
    rates,
    restrictions,
)

if TYPE_CHECKING:
    from jomreskit_api_core import Api

    from jomreskit import Kit

__version__ = "0.1.0"

# The first and last night a write changed, which its event names (``services.nights_covered``).
NIGHTS = ("valid_from", "valid_to")

AVAILABILITY_GET, AVAILABILITY_WRITE = "availability_get", "availability_write"
RATES_GET, RATES_WRITE = "rates_get", "rates_write"
RESTRICTIONS_GET, RESTRICTIONS_WRITE = "restrictions_get", "restrictions_write"
ARI_WRITE = "ari_write"


@hookimpl
def register_scopes() -> list[Scope]:
    return [
        Scope(AVAILABILITY_GET, "Read the availability calendar of the manager's properties"),
        Scope(AVAILABILITY_WRITE, "Close and open rooms' nights at the manager's properties"),
        Scope(RATES_GET, "Read the nightly rates of the manager's properties"),
        Scope(RATES_WRITE, "Set the nightly rates of the manager's properties"),
        Scope(RESTRICTIONS_GET, "Read the stay restrictions of the manager's properties"),
        Scope(RESTRICTIONS_WRITE, "Set the stay restrictions of the manager's properties"),
        Scope(ARI_WRITE, "Push availability, rates and stay restrictions of the manager's "
                         "properties in bulk"),
    ]


@hookimpl
def register_events() -> list[EventType]:
    return [EventType("restrictions_updated", ("property_uid",),
                      "A property's stay restrictions changed.", date_fields=NIGHTS),
            EventType("availability_updated", ("property_uid",),
                      "Rooms of a property were opened or closed by a bulk push.",
                      date_fields=NIGHTS)]


@hookimpl(optionalhook=True)  # api_feature_webhooks' hook: not called without it
def register_event_callbacks() -> dict[str, Any]:
    return {"restrictions_updated": restrictions.callback,
            "availability_updated": availability.callback}


@hookimpl
def bookable_room_conditions(arrival: date, departure: date) -> list[Any]:
    return [restrictions.bookable(arrival, departure)]


@hookimpl
def check_booking(kit: Kit, property_uid: int, arrival: date, departure: date,
                  room_uids: list[int]) -> None:
    restrictions.check_stay(kit, property_uid, arrival, departure, room_uids)


@hookimpl
def register_api_routes(api: Api) -> None:
    availability.register(api, AVAILABILITY_GET, AVAILABILITY_WRITE)
    rates.register(api, RATES_GET, RATES_WRITE)
    restrictions.register(api, RESTRICTIONS_GET, RESTRICTIONS_WRITE)
    bulk.register(api, ARI_WRITE)


@hookimpl
def register_migrations() -> str:
    return str(Path(__file__).parent / "migrations")
