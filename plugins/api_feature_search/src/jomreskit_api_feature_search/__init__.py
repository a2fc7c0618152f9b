"""Read-only property search for super managers.

``GET <api prefix>/search/properties`` and the distinct ``/search/countries``, ``/regions`` and
``/towns`` that remote services build their search forms from; scope ``search_get``.
"""

from __future__ import annotations

from pathlib import Path

from jomreskit import Event, Kit, Scope, hookimpl

from . import features

SCOPE = "search_get"


@hookimpl
def register_scopes() -> list[Scope]:
    return [Scope(SCOPE, "Search all published properties", granted_by="super")]


@hookimpl
def register_migrations() -> str:
    return str(Path(__file__).parent / "migrations")


@hookimpl
def event_fired(kit: Kit, event: Event) -> None:
    if event.name in features.EVENTS and event.property_uid is not None:
        features.reindex_property(kit.session(), event.property_uid)
