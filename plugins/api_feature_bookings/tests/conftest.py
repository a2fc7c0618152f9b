"""A demo site with the API served on loopback, and remote services holding keys to write.

The demo: manager ``manager`` runs Fawlty Towers (property 1: rooms 1-3, contract 41 of guest 1)
and Best West Hotel (property 2: rooms 4-5, contract 42); ``manager2`` runs nothing; ``super``
sees every property.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
import requests
from jomreskit_api_core.testing import bearer_token

from jomreskit.testing import Site

SCOPES = ("bookings_get", "bookings_write")


def day(n: int) -> str:
    """The date ``n`` days from today, as the API takes it."""
    return (date.today() + timedelta(days=n)).isoformat()


@dataclass
class Remote:
    """Calls the served site's API as the remote service of one manager or another."""

    site: Site
    base: str  # the API's address
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, manager: str = "manager") -> str:
        if manager not in self.tokens:
            self.tokens[manager] = bearer_token(self.site, manager, SCOPES)
        return self.tokens[manager]

    def call(self, method: str, path: str, manager: str = "manager",
             **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token(manager)}", **kwargs.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.call(method, path, **kwargs)
        assert response.status_code in (200, 201), f"{method} {path}: {response.text}"
        return response.json()["data"]

    def refused(self, method: str, path: str, **kwargs: Any) -> tuple[int, str]:
        response = self.call(method, path, **kwargs)
        return response.status_code, response.json()["error"]["code"]


@pytest.fixture
def remote(make_api_site, serve_app) -> Remote:
    site = make_api_site()
    base = serve_app(site.app)
    site.app.config["JOMRESKIT_BASE_URL"] = base
    return Remote(site, base + "/api")
