"""An ordered event feed with a durable cursor: what changed since a remote service looked.

``GET <api prefix>/events`` hands out the events of the key's manager's properties, oldest
first, never skipping or repeating one; ``PUT <api prefix>/events/cursor`` stores the key's
acknowledged position. Scope ``events_get``. The console's App Key Management page shows
each key's acknowledged position and how far behind it is (``key_column``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from jomreskit import Event, Kit, Scope, SiteSetting, hookimpl

from . import routes, settings, wakeup

if TYPE_CHECKING:
    import click
    from flask import Flask
    from jomreskit_api_core import Api

__version__ = "0.1.0"
SCOPE = "events_get"


@hookimpl
def register_scopes() -> list[Scope]:
    return [Scope(SCOPE, "Read the event feed of the manager's properties",
                  granted_by="manager")]


@hookimpl
def register_settings() -> list[SiteSetting]:
    return [
        SiteSetting(settings.WAITING_PER_KEY_KEY, settings.WAITING_PER_KEY,
                    "Long polls (GET /events with wait) one API key may have waiting at once "
                    "in one server process; beyond them, 429 too_many_waiting with "
                    "Retry-After."),
        SiteSetting(settings.WAITING_KEY, settings.WAITING,
                    "Long polls all keys together may have waiting at once in one server "
                    "process (each holds a thread): keep it below `jomreskit serve --threads` "
                    "(default 8) so other requests always find one; beyond it, 429 "
                    "too_many_waiting with Retry-After."),
    ]


@hookimpl
def register_api_routes(api: Api) -> None:
    routes.register(api, SCOPE)


@hookimpl
def api_key_columns() -> list[Any]:
    from .key_column import column

    return [column(SCOPE)]


@hookimpl
def register_migrations() -> str:
    return str(Path(__file__).parent / "migrations")


@hookimpl
def init_app(kit: Kit, app: Flask) -> None:
    from .lag import FeedLag

    wakeup.waker(kit)  # the commit listener, before the first event fires
    kit.metrics.register(FeedLag(kit))


@hookimpl
def event_fired(kit: Kit, event: Event) -> None:
    wakeup.fired(kit, kit.session())


@hookimpl
def background_services(kit: Kit) -> list[Any]:
    from .pruner import Pruner

    return [Pruner(kit)]


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .commands import feed_group

    cli.add_command(feed_group)
