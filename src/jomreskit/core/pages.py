"""What a plugin hands the web console: a page, its menu entry, and who may see it.

Declared here, beside the hook that returns it (``register_console_pages``); the console, which
sits outside the core, mounts it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint

from .domain.models import ROLES


@dataclass(frozen=True)
class ConsolePage:
    """A page of the web console, listed in the Account menu for ``roles``.

    ``blueprint`` serves it (the console mounts it under its own prefix and guards every view
    of it); ``endpoint`` is the view the menu links to, e.g. ``"api_core_console.keys"``.
    """

    title: str
    endpoint: str
    blueprint: Blueprint | None = None
    roles: tuple[str, ...] = ROLES
    description: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.roles) - set(ROLES)
        if unknown:
            raise ValueError(f"console page {self.title!r}: unknown roles {sorted(unknown)}")

    def visible_to(self, role: str) -> bool:
        return role in self.roles
