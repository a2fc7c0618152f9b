"""The console's name for ``ConsolePage``, declared in the core beside the hook that returns it."""

from __future__ import annotations

from ..core.pages import ConsolePage

__all__ = ["ConsolePage"]
