"""A demo site with the API served on loopback, and remote services holding keys to write.

The demo: manager ``manager`` runs Fawlty Towers (property 1: rooms 1-3, contract 41 of guest 1)
and Best West Hotel (property 2: rooms 4-5, contract 42); ``manager2`` runs nothing; ``super``
sees every property.
"""

from __future__ import annotations

import pytest
from jomreskit_api_core.testing import RemoteService

SCOPES = ("availability_get", "availability_write", "rates_get", "rates_write")


@pytest.fixture
def remote(make_api_site, serve_app) -> RemoteService:
    site = make_api_site()
    base = serve_app(site.app)
    site.app.config["JOMRESKIT_BASE_URL"] = base
    return RemoteService(site, base + "/api", SCOPES)
