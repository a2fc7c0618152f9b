"""Read-only property search for super managers.

``GET <api prefix>/search/properties`` and the distinct ``/search/countries``, ``/regions`` and
``/towns`` that remote services build their search forms from; scope ``search_get``.
"""

from __future__ import annotations

from pathlib import Path

import click
from jomreskit_api_core import Api

from jomreskit import Event, Kit, Scope, hookimpl

from . import features, routes

SCOPE = "search_get"


@hookimpl
def register_scopes() -> list[Scope]:
    return [Scope(SCOPE, "Search the site's properties", granted_by="super")]


@hookimpl
def register_api_routes(api: Api) -> None:
    routes.register(api, SCOPE)


@hookimpl
def register_migrations() -> str:
    return str(Path(__file__).parent / "migrations")


@hookimpl
def event_fired(kit: Kit, event: Event) -> None:
    if event.name in features.EVENTS and event.property_uid is not None:
        features.reindex_property(kit.session(), event.property_uid)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .cli import search_group

    cli.add_command(search_group)
