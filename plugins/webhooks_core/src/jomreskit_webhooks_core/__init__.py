"""Signed, reliable webhook deliveries through a transactional outbox.

Firing an event writes one delivery row per matching webhook in the firing transaction
(``outbox``); workers (``worker``) claim due rows, send them signed (``message``) through the
SSRF guard (``guard``) with the webhook's auth method, and record every attempt.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from jomreskit import EventType, SiteSetting, hookimpl

from . import breaker, config, metrics, models, outbox, wakeup

if TYPE_CHECKING:
    import click
    from flask import Flask

    from jomreskit import Event, Kit

__all__ = ["models"]


@hookimpl
def register_migrations() -> str:
    return str(Path(__file__).parent / "migrations")


@hookimpl
def register_events() -> list[EventType]:
    return list(breaker.EVENTS)


@hookimpl(optionalhook=True)  # api_feature_webhooks' hook: not called without it
def register_event_callbacks() -> dict[str, Any]:
    from .services import read_webhook

    return {event.name: read_webhook for event in breaker.EVENTS}


@hookimpl
def register_settings() -> list[SiteSetting]:
    return list(config.SETTINGS)


@hookimpl
def init_app(kit: Kit, app: Flask) -> None:
    wakeup.waker(kit)
    metrics.of(kit)  # scraped from the start, before any worker counts


@hookimpl
def event_fired(kit: Kit, event: Event) -> str:
    queued = outbox.queue(kit, event)
    return f"queued {queued} webhook deliver{'y' if queued == 1 else 'ies'}"


@hookimpl
def register_commands(cli: click.Group) -> None:
    from . import commands

    commands.register(cli)


@hookimpl
def background_services(kit: Kit) -> list[Any]:
    from .worker import WorkerService

    return [WorkerService(kit)]


@hookimpl
def register_console_pages() -> list[Any]:
    from . import console, dashboard_console

    return console.pages() + dashboard_console.pages()
