"""Workers wake on the commits of their own site only: two sites in two schemas of one
PostgreSQL database each have their channel, and an event queued on one wakes no worker of
the other."""

from __future__ import annotations

import os
import threading

import pytest
from jomreskit_webhooks_core import services as webhooks
from jomreskit_webhooks_core import wakeup

from jomreskit import create_app, get_kit
from jomreskit.domain import services
from jomreskit.testing import POSTGRES_ENV, Site, scratch_database, set_up


def site_in(url: str, folder) -> dict[str, object]:
    settings = {"JOMRESKIT_INSTANCE_PATH": str(folder / "instance"),
                "JOMRESKIT_DATABASE_URL": url, "JOMRESKIT_SECRET_KEY": "test-secret-key",
                "JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8", "TESTING": True}
    set_up(settings, seed=True)
    return settings


def started(settings: dict[str, object]) -> Site:
    """The site as one more process starts it: an app, engine and sessions of its own."""
    app = create_app(settings)
    return Site(app, get_kit(app))


class Worker:
    """A worker's waker in a thread, waiting once for new work."""

    def __init__(self, site: Site, timeout: float) -> None:
        self.waker = wakeup.Waker(site.kit)
        self.waker.wait(20)  # its watcher starts, and wakes it once as it does
        self.woken: bool | None = None
        self._thread = threading.Thread(target=self._wait, args=(timeout,))
        self._thread.start()

    def _wait(self, timeout: float) -> None:
        self.woken = self.waker.wait(timeout)

    def result(self, timeout: float | None = None) -> bool | None:
        """True or False once it woke or timed out; None while it still waits."""
        self._thread.join(timeout)
        return self.woken


def test_a_delivery_queued_on_a_site_in_one_schema_wakes_no_worker_of_another(tmp_path):
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    with (scratch_database(server, tmp_path / "a") as first_url,
          scratch_database(server, tmp_path / "b") as second_url):
        first = site_in(first_url, tmp_path / "a")
        second = site_in(second_url, tmp_path / "b")
        firing, sites = started(first), []
        try:
            with firing.app.app_context(), firing.kit.transaction() as session:
                webhooks.create_webhook(firing.kit, "manager", "http://127.0.0.1:9/hook")
                channel = wakeup.channel(firing.kit, session)
            sites = [started(first), started(second)]
            with sites[1].app.app_context(), sites[1].kit.transaction() as session:
                assert wakeup.channel(sites[1].kit, session) != channel
            of_first, of_second = Worker(sites[0], 30), Worker(sites[1], 30)

            with firing.app.app_context(), firing.kit.transaction():
                services.save_note(firing.kit, 41, "queued for the manager's webhook")

            assert of_first.result() is True
            assert of_second.result(timeout=1.0) is None  # still waiting
            wake_second = started(second)
            sites.append(wake_second)
            with wake_second.app.app_context(), wake_second.kit.transaction() as session:
                wakeup.queued(wake_second.kit, session)
            assert of_second.result() is True  # its own site's commits do wake it
        finally:
            for site in [firing, *sites]:
                site.kit.session.remove()
                site.kit.engine.dispose()
