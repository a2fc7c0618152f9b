"""A demo site with the API served on loopback, and readers of its event feed.

The demo: manager ``manager`` runs Fawlty Towers (property 1, contract 41) and Best West Hotel
(property 2); ``manager2`` runs nothing; ``super`` sees every property.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from jomreskit_api_core.testing import bearer_token
from sqlalchemy import select

from jomreskit.domain import EventRecord, services
from jomreskit.testing import Site


@dataclass
class Feed:
    """Reads the served site's event feed as the remote service of one manager or another."""

    site: Site
    base: str  # the API's address
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, manager: str) -> str:
        if manager not in self.tokens:
            self.tokens[manager] = bearer_token(self.site, manager, ["events_get"])
        return self.tokens[manager]

    def get(self, manager: str = "manager", **params: Any) -> requests.Response:
        return requests.get(f"{self.base}/events", params=params, timeout=40,
                            headers={"Authorization": f"Bearer {self.token(manager)}"})

    def page(self, manager: str = "manager", **params: Any) -> dict[str, Any]:
        response = self.get(manager, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def read_all(self, manager: str = "manager", after: str | None = None,
                 **params: Any) -> tuple[list[dict[str, Any]], str]:
        """Every event after ``after``, page by page; and the cursor to read on from."""
        events: list[dict[str, Any]] = []
        held = False
        give_up = time.monotonic() + 120
        while True:
            # meta.more with no data: events wait behind a transaction still running somewhere
            # on the server (another test's, say, which may be slow under load); wait for it to
            # end rather than stop early.
            page = self.page(manager, **({"after": after} if after else {}),
                             **({"wait": 5} if held else {}), **params)
            events += page["data"]
            after = page["meta"]["next"]
            if not page["data"] and not (page["meta"]["more"] and time.monotonic() < give_up):
                return events, after
            held = not page["data"]

    def acknowledge(self, cursor: Any, manager: str = "manager") -> requests.Response:
        return requests.put(f"{self.base}/events/cursor", json={"cursor": cursor}, timeout=10,
                            headers={"Authorization": f"Bearer {self.token(manager)}"})

    def error(self, response: requests.Response) -> tuple[int, str]:
        return response.status_code, response.json()["error"]["code"]

    def fire_note(self, contract_uid: int = 41, text: str = "a note") -> int:
        """Add a note to a contract (event booking_note_saved); its event's id."""
        with self.site.app.app_context(), self.site.kit.transaction():
            services.save_note(self.site.kit, contract_uid, text)
        return self.newest_event_id()

    def newest_event_id(self) -> int:
        with self.site.app.app_context():
            return self.site.kit.session().scalar(
                select(EventRecord.id).order_by(EventRecord.id.desc()).limit(1))

    def event_ids(self, property_uids: set[int] | None = None) -> list[int]:
        """The ids of the recorded events (of those properties), in id order."""
        with self.site.app.app_context():
            records = self.site.kit.session().scalars(select(EventRecord)
                                                      .order_by(EventRecord.id)).all()
            return [r.id for r in records
                    if property_uids is None or r.ids.get("property_uid") in property_uids]


@pytest.fixture
def make_feed(make_api_site, serve_app):
    def make(**config: Any) -> Feed:
        site = make_api_site(**config)
        base = serve_app(site.app)
        site.app.config["JOMRESKIT_BASE_URL"] = base
        return Feed(site, base + "/api")

    return make


# The embedded half (a host app's session) runs on the feed's read and acknowledge paths; the
# waiting, pruning and follower drills, the slowest, run standalone only.
EMBEDDED_TOO = ("test_feed", "test_cursor")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent  # the hook sees every test of the run: only this folder's
    leave_out = [item for item in items if item.path.parent == here
                 and item.path.stem not in EMBEDDED_TOO
                 and getattr(item, "callspec", None) is not None
                 and item.callspec.params.get("site_mode") == "embedded"]
    if leave_out:
        config.hook.pytest_deselected(items=leave_out)
        items[:] = [item for item in items if item not in leave_out]


@pytest.fixture
def feed(make_feed, site_mode) -> Feed:
    """Served standalone, and again embedded in a host app that shares its session."""
    return make_feed(mode=site_mode)
