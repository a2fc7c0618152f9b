"""A demo site with the API served on loopback, and channel managers' keys taking its bookings.

The demo: manager ``manager`` runs Fawlty Towers (property 1, contract 41) and Best West Hotel
(property 2, contract 42); ``manager2`` runs nothing; ``super`` sees every property.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
import requests
from jomreskit_api_core.testing import create_key, issue_token
from sqlalchemy import select

from jomreskit.domain import EventRecord, services
from jomreskit.testing import Site

SCOPE = "bookings_handover"


@dataclass
class Key:
    """One API key of a manager, calling the served site's API."""

    base: str
    token: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(self.base + path, params=params, headers=self.headers(), timeout=30)

    def pending(self, **params: Any) -> list[tuple[int, int, str]]:
        """(contract_uid, revision, type) of each revision the key has still to take."""
        answer = self.get("/handover/bookings", **params)
        assert answer.status_code == 200, answer.text
        return [(r["contract_uid"], r["revision"], r["type"]) for r in answer.json()["data"]]

    def acknowledge(self, property_uid: int, contract_uid: int,
                    revision: int) -> requests.Response:
        return requests.post(f"{self.base}/handover/bookings/{property_uid}/{contract_uid}/"
                             f"{revision}/acknowledge", headers=self.headers(), timeout=30)


@dataclass
class Handover:
    """A served site whose bookings change, and keys that take them."""

    site: Site
    base: str  # the API's address

    def key(self, manager: str = "manager", scopes: tuple[str, ...] = (SCOPE,)) -> Key:
        return Key(self.base, issue_token(self.site, *create_key(self.site, manager, scopes)))

    def change(self, do: Any) -> Any:
        """Run ``do(kit)`` in a committed transaction, as a change on the site."""
        with self.site.app.app_context(), self.site.kit.transaction():
            return do(self.site.kit)

    def book(self, property_uid: int = 1, days: int = 200) -> int:
        """A new booking on room 1 (property 1) or 4 (property 2); its contract_uid."""
        arrival = date.today() + timedelta(days=days)
        room = 1 if property_uid == 1 else 4
        return self.change(lambda kit: services.add_booking(
            kit, property_uid, arrival, arrival + timedelta(2), [room]).contract_uid)

    def last_event(self, name: str) -> dict[str, int] | None:
        with self.site.app.app_context():
            try:
                return self.site.kit.session().scalar(
                    select(EventRecord.ids).where(EventRecord.name == name)
                    .order_by(EventRecord.id.desc()).limit(1))
            finally:
                self.site.kit.session.remove()

    def events(self, name: str) -> list[dict[str, int]]:
        with self.site.app.app_context():
            try:
                return list(self.site.kit.session().scalars(
                    select(EventRecord.ids).where(EventRecord.name == name)
                    .order_by(EventRecord.id)))
            finally:
                self.site.kit.session.remove()


@pytest.fixture
def make_handover(make_api_site, serve_app):
    def make(**config: Any) -> Handover:
        config.setdefault("JOMRESKIT_API_RATE_LIMIT", "off")
        site = make_api_site(**config)
        base = serve_app(site.app)
        site.app.config["JOMRESKIT_BASE_URL"] = base
        return Handover(site, base + "/api")

    return make


@pytest.fixture
def handover(make_handover) -> Handover:
    return make_handover()
