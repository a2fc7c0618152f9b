"""The hook api_feature_webhooks offers other plugins, documented in its README ("Hooks it
offers"). It alone calls it, so it owns its spec (the package exposes this module as its
``hookspecs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jomreskit import hookspec

if TYPE_CHECKING:
    from .callbacks import Reader


@hookspec
def register_event_callbacks() -> dict[str, Reader]:
    """Return ``{event name: reader}``: how to read the record each of its events is about."""
