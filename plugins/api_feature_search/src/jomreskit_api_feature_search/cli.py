"""`jomreskit search ...`: upkeep of the search's own table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from jomreskit.cli import echo_json, pass_kit

from . import features

if TYPE_CHECKING:
    from jomreskit import Kit


@click.group("search")
def search_group() -> None:
    """Property search."""


@search_group.command("reindex")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_kit
def search_reindex(kit: Kit, as_json: bool) -> None:
    """Rebuild the features index from every property and room.

    Services keep it up to date; run this after changing properties or rooms some other way.
    """
    with kit.transaction() as session:
        rows = features.reindex(session)
    if as_json:
        echo_json({"features": rows})
    else:
        click.echo(f"search: {rows} property features indexed")
