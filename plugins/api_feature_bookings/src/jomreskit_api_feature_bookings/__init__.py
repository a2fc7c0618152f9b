"""Bookings, written back through the API.

A channel manager that takes a booking creates it here, changes its dates, rooms or guest, and
cancels it; each write fires the event a change on the site fires (``booking_added``,
``booking_modified``, ``booking_cancelled``), so the existing callbacks answer for it. Scopes
``bookings_get`` and ``bookings_write``. It adds no table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jomreskit import Scope, hookimpl

from . import routes

if TYPE_CHECKING:
    from jomreskit_api_core import Api

__version__ = "0.1.0"

BOOKINGS_GET, BOOKINGS_WRITE = "bookings_get", "bookings_write"


@hookimpl
def register_scopes() -> list[Scope]:
    return [
        Scope(BOOKINGS_GET, "Read the bookings of the manager's properties"),
        Scope(BOOKINGS_WRITE, "Create, modify and cancel bookings at the manager's properties"),
    ]


@hookimpl
def register_api_routes(api: Api) -> None:
    routes.register(api, BOOKINGS_GET, BOOKINGS_WRITE)
