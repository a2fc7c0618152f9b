"""Signed, reliable webhook deliveries through a transactional outbox.

Firing an event writes one delivery row per matching webhook in the firing transaction
(``outbox``); workers (``worker``) claim due rows, send them signed (``message``) through the
SSRF guard (``guard``) with the webhook's auth method, and record every attempt.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from jomreskit import hookimpl

from . import models, outbox, wakeup

if TYPE_CHECKING:
    import click
    from flask import Flask

    from jomreskit import Event, Kit

__all__ = ["models"]


@hookimpl
def register_migrations() -> str:
    return str(Path(__file__).parent / "migrations")


@hookimpl
def init_app(kit: Kit, app: Flask) -> None:
    wakeup.waker(kit)


@hookimpl
def event_fired(kit: Kit, event: Event) -> None:
    outbox.queue(kit, event)


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
    from .console import pages

    return pages()
