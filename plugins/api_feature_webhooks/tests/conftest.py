"""A demo site with the API served on loopback, and callers holding keys with webhooks_get.

The demo: manager ``manager`` runs Fawlty Towers (property 1: contract 41 of guest 1, invoice 1)
and Best West Hotel (property 2: contract 42); ``manager2`` runs nothing; ``super`` sees all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from jomreskit_api_core.testing import bearer_token

from jomreskit.testing import Site


@dataclass
class Callbacks:
    """Calls the served site's API as the remote service of one manager or another."""

    site: Site
    base: str  # the site's address, which is also its JOMRESKIT_BASE_URL
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, manager: str) -> str:
        if manager not in self.tokens:
            self.tokens[manager] = bearer_token(self.site, manager, ["webhooks_get"])
        return self.tokens[manager]

    def get(self, url: str, manager: str = "manager") -> requests.Response:
        """GET a callback: an absolute URL, or a path below the API prefix."""
        if not url.startswith("http"):
            url = f"{self.base}/api{url}"
        return requests.get(url, headers={"Authorization": f"Bearer {self.token(manager)}"},
                            timeout=10)

    def record(self, url: str, manager: str = "manager") -> dict[str, Any]:
        response = self.get(url, manager)
        assert response.status_code == 200, f"{url}: {response.status_code} {response.text}"
        return response.json()["data"]

    def error(self, url: str, manager: str = "manager") -> tuple[int, str]:
        response = self.get(url, manager)
        return response.status_code, response.json()["error"]["code"]


@pytest.fixture
def make_callbacks(make_api_site, serve_app):
    """Serve a demo site (with extra config) and call it back."""

    def make(**config: Any) -> Callbacks:
        site = make_api_site(**config)
        base = serve_app(site.app)
        site.app.config["JOMRESKIT_BASE_URL"] = base
        return Callbacks(site, base)

    return make


@pytest.fixture
def callbacks(make_callbacks, site_mode) -> Callbacks:
    """Served standalone, and again embedded in a host app that shares its session."""
    return make_callbacks(mode=site_mode)
