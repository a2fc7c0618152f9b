"""The core's hooks: what a jomreskit plugin can implement for the core. Each is documented in
docs/plugin_hooks.md. A plugin that calls a hook of its own owns its spec (api_core's
``register_api_routes``, say): see ``plugins.offered_hookspecs``.

Every hook is called with keyword arguments; an implementation may accept any subset of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .markers import hookspec

if TYPE_CHECKING:
    from datetime import date

    import click
    from flask import Flask

    from .authmethods import AuthMethod
    from .config import SiteSetting
    from .events import Event, EventType
    from .kit import Kit
    from .pages import ConsolePage
    from .scopes import Scope


@hookspec
def register_events() -> list[EventType]:
    """Return the event types this plugin can fire."""


@hookspec
def event_fired(kit: Kit, event: Event) -> str | None:
    """React to a recorded event, inside the transaction that fired it; optionally return
    one line saying what was done (shown by `jomreskit events fire`)."""


@hookspec
def register_scopes() -> list[Scope]:
    """Return the API scopes this plugin adds."""


@hookspec
def register_authmethods() -> list[AuthMethod]:
    """Return the webhook auth methods this plugin provides."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands or command groups to the `jomreskit` CLI."""


@hookspec
def check_booking(kit: Kit, property_uid: int, arrival: date, departure: date,
                  room_uids: list[int]) -> None:
    """Refuse a guest's booking of these rooms and nights before it is made, by raising a
    ``JomresKitError`` (a ``ValidationError`` answers 422 through the API)."""


@hookspec
def bookable_room_conditions(arrival: date, departure: date) -> list[Any]:
    """Return SQL conditions on ``Room`` that a room must meet to be offered for a guest's stay
    from ``arrival`` to ``departure`` (searches add them to their free-room query)."""


@hookspec
def register_migrations() -> str | None:
    """Return the folder of this plugin's Alembic revisions, applied by `jomreskit db upgrade`."""


@hookspec
def init_app(kit: Kit, app: Flask) -> None:
    """Set up this plugin on a Flask app: register blueprints, handlers, background threads."""


@hookspec
def register_settings() -> list[SiteSetting]:
    """Return the JOMRESKIT_* settings this plugin reads, each with its default."""


@hookspec(firstresult=True)
def event_callback_url(kit: Kit, event: Event) -> str | None:
    """Return the API URL where a remote service reads the record ``event`` is about: absolute,
    or the site-relative path when the site's address is not known where it was fired."""


@hookspec
def background_services(kit: Kit) -> list[Any]:
    """Return services to run beside `jomreskit serve`: objects with ``start()`` and ``stop()``."""


@hookspec
def register_console_pages() -> list[ConsolePage]:
    """Return the pages this plugin adds to the manager's web console (its Account menu)."""
