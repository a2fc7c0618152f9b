"""The hooks api_core offers other plugins, documented in its README ("Hooks it offers").

api_core alone calls them, so it owns their specs (the package exposes this module as its
``hookspecs``): `jomreskit plugins rebuild` checks every plugin's implementations against them
as against the core's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jomreskit import hookspec

if TYPE_CHECKING:
    from .api import Api
    from .columns import KeyColumn


@hookspec
def register_api_routes(api: Api) -> None:
    """Add routes to the REST API, each with its methods and required scope."""


@hookspec
def api_key_columns() -> list[KeyColumn]:
    """Return columns for the console's App Key Management table: a title, and how to fill
    each shown key's cell."""
