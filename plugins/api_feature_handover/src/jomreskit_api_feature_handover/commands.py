"""`jomreskit handover check`: what `jomreskit serve` does every minute, on demand (cron)."""

from __future__ import annotations

import click

from jomreskit import Kit
from jomreskit.cli import pass_kit

from . import alarm


@click.group("handover")
def handover_group() -> None:
    """Booking handover (GET /api/handover/bookings)."""


@handover_group.command("check")
@pass_kit
def check(kit: Kit) -> None:
    """Fire booking_unacknowledged for each booking revision due, once."""
    from . import SCOPE

    count = alarm.check(kit, SCOPE)
    click.echo(f"{count} unacknowledged booking revision{'' if count == 1 else 's'} alarmed")
