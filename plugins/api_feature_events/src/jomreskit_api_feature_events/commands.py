"""`jomreskit event-feed prune`: what the hourly pruner does, on demand."""

from __future__ import annotations

from datetime import timedelta

import click

from jomreskit import Kit
from jomreskit.cli import pass_kit
from jomreskit.db import utcnow

from . import feed, settings


@click.group("event-feed")
def feed_group() -> None:
    """The event feed (GET /api/events)."""


@feed_group.command("prune")
@click.option("--days", type=click.FloatRange(min=0), default=None,
              help=f"Keep this many days (default {settings.RETENTION_KEY}).")
@pass_kit
def prune(kit: Kit, days: float | None) -> None:
    """Delete events older than the retention; cursors from before then answer 410."""
    keep = settings.retention(kit) if days is None else timedelta(days=days)
    count = feed.prune(kit, utcnow() - keep)
    click.echo(f"{count} events older than {keep.total_seconds() / 86400:g} days deleted")
