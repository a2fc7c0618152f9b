"""The webhook callback endpoint: the full record an event is about.

``GET <api prefix>/webhooks/<property_uid>/<event>[/<id>]`` with scope ``webhooks_get``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from jomreskit_api_core import Api

from jomreskit import Event, Kit, Scope, SiteSetting, hookimpl

from . import callbacks, routes, urls
from . import hookspecs as hookspecs  # the hook it offers other plugins
from .callbacks import ALIASES, Reader, tombstone

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["ALIASES", "Reader", "tombstone"]

log = logging.getLogger(__name__)

SCOPE = "webhooks_get"


@hookimpl
def register_scopes() -> list[Scope]:
    return [Scope(SCOPE, "Get data as part of a webhook communication", granted_by="manager")]


@hookimpl
def register_settings() -> list[SiteSetting]:
    return [SiteSetting(callbacks.GUEST_FIELDS_SETTING, None,
                        "The guest fields callbacks carry, a comma list of "
                        f"{', '.join(callbacks.records.GUEST_FIELDS)}; empty: guest_uid only; "
                        "unset: all.")]


@hookimpl
def register_api_routes(api: Api) -> None:
    routes.register(api, SCOPE)


@hookimpl
def register_event_callbacks() -> dict[str, Reader]:
    return dict(callbacks.CORE_READERS)


@hookimpl
def event_callback_url(kit: Kit, event: Event) -> str | None:
    return urls.callback_url(kit.settings, event.type, event.ids)


@hookimpl
def init_app(kit: Kit, app: Flask) -> None:
    # Refuse a database the record statements are not written for now, while the site
    # starts (the plugin is then reported and left out), rather than on each callback.
    callbacks.statements.prepared(kit.engine.dialect, callbacks.guest_fields(kit.settings))
    unknown = callbacks.unknown_guest_fields(kit.settings)
    if unknown:
        log.warning("%s: unknown guest field(s) %s left out; known: %s",
                    callbacks.GUEST_FIELDS_SETTING, ", ".join(unknown),
                    ", ".join(callbacks.records.GUEST_FIELDS))
