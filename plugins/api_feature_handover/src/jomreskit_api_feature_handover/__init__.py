"""Booking handover with acknowledgement: bookings a channel manager cannot miss.

Every booking event makes a revision of its booking. ``GET <api prefix>/handover/bookings``
lists the revisions a key has not acknowledged; ``POST .../acknowledge`` takes one. A revision
no key with the scope acknowledged within ``JOMRESKIT_HANDOVER_ALARM_MINUTES`` fires
``booking_unacknowledged`` once, which webhooks and the event feed carry and the console's
"Missed bookings" page shows. Scope ``bookings_handover``, which managers grant.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from jomreskit import Event, EventType, Kit, Scope, SiteSetting, hookimpl

from . import alarm, revisions, routes, settings

if TYPE_CHECKING:
    import click
    from jomreskit_api_core import Api

__version__ = "0.1.0"
SCOPE = "bookings_handover"


@hookimpl
def register_scopes() -> list[Scope]:
    return [Scope(SCOPE, "List the bookings of the manager's properties not yet acknowledged, "
                         "and acknowledge them", granted_by="manager")]


@hookimpl
def register_events() -> list[EventType]:
    return [EventType(alarm.EVENT, ("property_uid", "contract_uid", "revision"),
                      "No API key acknowledged a booking's revision within the delay.")]


@hookimpl
def register_settings() -> list[SiteSetting]:
    return settings.SETTINGS


@hookimpl
def register_api_routes(api: Api) -> None:
    routes.register(api, SCOPE)


@hookimpl
def register_migrations() -> str:
    return str(Path(__file__).parent / "migrations")


@hookimpl
def event_fired(kit: Kit, event: Event) -> None:
    revisions.record(kit, event)  # bookkeeping, not an outcome worth telling who fired


@hookimpl(optionalhook=True)  # api_feature_webhooks' hook: not called without it
def register_event_callbacks() -> dict[str, Any]:
    from .callback import read_alarm

    return {alarm.EVENT: read_alarm}


@hookimpl
def background_services(kit: Kit) -> list[Any]:
    return [alarm.Watchman(kit, SCOPE)]


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .commands import handover_group

    cli.add_command(handover_group)


@hookimpl
def register_console_pages() -> list[Any]:
    from .console import pages

    return pages()
