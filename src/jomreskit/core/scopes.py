"""API scopes: what an API key may be allowed to do, and which role may grant it."""

from __future__ import annotations

from dataclasses import dataclass

GRANTED_BY = ("manager", "super")


@dataclass(frozen=True)
class Scope:
    """An API scope. ``granted_by="super"`` means only super managers may put it on a key."""

    name: str
    description: str
    granted_by: str = "manager"

    def grantable_by(self, role: str) -> bool:
        """Super managers may grant every scope; managers only the manager ones."""
        return role == "super" or self.granted_by == "manager"
