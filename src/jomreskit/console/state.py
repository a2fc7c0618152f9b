"""The console's state on one app, kept in ``app.extensions["jomreskit_console"]``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from ..core.kit import Kit
from . import plugin_manager
from .pages import ConsolePage
from .throttle import SignInThrottle

EXTENSION = "jomreskit_console"

# The console's own menu entries; plugins add theirs through register_console_pages.
BUILT_IN_PAGES = (
    ConsolePage(
        "Plugin Manager", "jomreskit_plugin_manager.plugins", plugin_manager.bp, roles=("super",),
        description="Installed plugins: enable, disable, rebuild the registry.",
    ),
)


@dataclass
class Console:
    """The console on one app: its prefix and the blueprints it guards."""

    prefix: str
    started_with: frozenset[str] = frozenset()  # plugins loaded at start: their routes exist
    blueprints: set[str] = field(default_factory=set)
    throttle: SignInThrottle = field(default_factory=SignInThrottle)
    _pages_of: Any = None
    _pages: list[ConsolePage] = field(default_factory=list)

    def pages(self, kit: Kit) -> list[ConsolePage]:
        """The pages the plugins loaded now offer (after an enable or disable, a fresh list)."""
        if self._pages_of is not kit.pm:
            self._pages = [*BUILT_IN_PAGES, *kit.hooks.register_console_pages()]
            self._pages_of = kit.pm
        return self._pages

    def menu(self, kit: Kit, role: str) -> list[ConsolePage]:
        """The Account menu of a user with ``role``: pages offered now and mounted at start."""
        return sorted(
            (p for p in self.pages(kit)
             if p.visible_to(role) and p.endpoint in current_app.view_functions),
            key=lambda p: p.title.lower(),
        )


def console_of(app: Flask | None = None) -> Console:
    return (app or current_app).extensions[EXTENSION]
