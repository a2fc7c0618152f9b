"""Pytest helpers for plugins that add API routes: sites with the API mounted, keys and tokens.

Loaded automatically as a pytest plugin when jomreskit-api-core is installed (with
``jomreskit.testing``, whose ``make_site`` fixture it builds on). Fixtures:

- ``make_api_site(plugins=(), seed=True, mode="standalone", **config)``: a set-up site whose
  app has the API mounted, with the demo data seeded; ``plugins`` are single-file plugins (path
  or source text) dropped in its plugins folder first; ``mode="embedded"``: served by a host
  app that hands jomreskit its Flask-SQLAlchemy session (``embed``).
- ``api_site``: ``make_api_site()``.
- ``site_mode`` (``jomreskit.testing``'s): "standalone", then "embedded": a test that passes
  it to ``make_api_site`` runs once for each way a site runs jomreskit.

Functions (each takes the ``Site``):

- ``create_key(site, manager="manager", scopes=("webhooks_get",))`` -> (client_id, secret)
- ``issue_token(site, client_id, secret)`` -> an access token, from the real token endpoint
- ``bearer_token(site, manager="manager", scopes=(...))`` -> a token of a new key
- ``auth(token)`` -> ``{"Authorization": "Bearer <token>"}``
- ``expire_token(site, token)``: make a token expire now
- ``RemoteService(site, base, scopes)``: calls a served site's API over HTTP as the remote
  service of one manager or another, with tokens of keys holding ``scopes``
- ``day(n)``: the date ``n`` days from today, as the API takes it
- ``embed(site)``, ``restart(site)``: the core's (``jomreskit.testing``), named here too
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from sqlalchemy import update

from jomreskit.db import utcnow

from . import keys
from .models import AccessToken, digest

if TYPE_CHECKING:
    # Imported when used: importing it here, before pytest registers it as a plugin, would
    # keep pytest from rewriting its asserts.
    from jomreskit.testing import Site


def __getattr__(name: str) -> Any:
    """``SITE_MODES``, ``embed`` and ``restart``: the core's, named here as they were."""
    if name in ("SITE_MODES", "embed", "restart"):
        import jomreskit.testing

        return getattr(jomreskit.testing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@pytest.fixture
def make_api_site(make_site: Callable[..., Site]) -> Callable[..., Site]:
    """Build sites with the REST API mounted (demo data seeded unless ``seed=False``): the
    core's ``make_site`` (``plugins``, ``mode`` and config as it takes them), seeded by
    default."""

    def make(plugins: Iterable[str | Path] = (), seed: bool = True, mode: str = "standalone",
             **config: Any) -> Site:
        return make_site(seed=seed, plugins=plugins, mode=mode, **config)

    return make


@pytest.fixture
def api_site(make_api_site: Callable[..., Site]) -> Site:
    """A demo-seeded site with the REST API and the installed API plugins mounted."""
    return make_api_site()


def create_key(site: Site, manager: str = "manager", scopes: Sequence[str] = ("webhooks_get",),
               name: str = "") -> tuple[str, str]:
    """A new API key of ``manager``: (client_id, client_secret)."""
    with site.app.app_context(), site.kit.transaction():
        key, secret = keys.create_key(site.kit, manager, scopes, name=name)
        return key.client_id, secret


def issue_token(site: Site, client_id: str, secret: str, scope: str | None = None) -> str:
    """An access token from the site's token endpoint (client_secret_basic)."""
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    prefix = site.app.config["JOMRESKIT_API_PREFIX"].rstrip("/")
    response = site.client().post(f"{prefix}/oauth/token", data=form, auth=(client_id, secret))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["access_token"]


def bearer_token(site: Site, manager: str = "manager",
                 scopes: Sequence[str] = ("webhooks_get",)) -> str:
    """An access token of a new key of ``manager`` holding ``scopes``."""
    return issue_token(site, *create_key(site, manager, scopes))


def auth(token: str) -> dict[str, str]:
    """The header that sends ``token``."""
    return {"Authorization": f"Bearer {token}"}


def expire_token(site: Site, token: str) -> None:
    """Make ``token`` expire now, as if its lifetime had run out."""
    with site.app.app_context(), site.kit.transaction() as session:
        session.execute(update(AccessToken).where(AccessToken.token_hash == digest(token))
                        .values(expires_at=utcnow() - timedelta(seconds=1)))


def day(n: int) -> str:
    """The date ``n`` days from today, as the API takes it (YYYY-MM-DD)."""
    return (date.today() + timedelta(days=n)).isoformat()


@dataclass
class RemoteService:
    """Calls a served site's API (``base``: its address, e.g. ``http://127.0.0.1:5000/api``) as
    the remote service of one manager or another, each with a token of a key holding
    ``scopes``."""

    site: Site
    base: str
    scopes: Sequence[str]
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, manager: str = "manager") -> str:
        if manager not in self.tokens:
            self.tokens[manager] = bearer_token(self.site, manager, self.scopes)
        return self.tokens[manager]

    def call(self, method: str, path: str, manager: str = "manager",
             **kwargs: Any) -> requests.Response:
        headers = {**auth(self.token(manager)), **kwargs.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The ``data`` of a success answer (200 or 201)."""
        response = self.call(method, path, **kwargs)
        assert response.status_code in (200, 201), f"{method} {path}: {response.text}"
        return response.json()["data"]

    def refused(self, method: str, path: str, **kwargs: Any) -> tuple[int, str]:
        """The status and error code of an answer that refuses."""
        response = self.call(method, path, **kwargs)
        return response.status_code, response.json()["error"]["code"]
