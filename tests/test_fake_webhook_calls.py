"""examples/plugins/fake_webhook_calls.py: dropped into the plugins folder, it fires its
event on every page load, as Jomres' j00005fake_webhook_calls did."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from jomreskit import get_kit
from jomreskit.domain import EventRecord
from jomreskit.testing import restart

EXAMPLE = Path(__file__).parents[1] / "examples" / "plugins" / "fake_webhook_calls.py"


@pytest.fixture
def restarted():
    """Start a site again, as `jomreskit serve` would after `plugins rebuild`."""
    apps = []

    def restart_app(site):
        apps.append(restart(site).app)
        return apps[-1]

    yield restart_app
    for app in apps:
        get_kit(app).session.remove()
        get_kit(app).engine.dispose()


def recorded_events(app) -> list[tuple[str, dict]]:
    kit = get_kit(app)
    with app.app_context(), kit.transaction() as session:
        return [(e.name, e.ids) for e in session.scalars(
            select(EventRecord).where(EventRecord.name == "booking_modified")
            .order_by(EventRecord.id))]


def test_every_page_load_fires_the_chosen_event(site, serve_app, restarted):
    plugins_dir = Path(site.kit.settings["JOMRESKIT_PLUGINS_DIR"])
    plugins_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE, plugins_dir)
    rebuild = site.cli("plugins", "rebuild")
    assert rebuild.exit_code == 0, rebuild.output
    assert "fake_webhook_calls" in rebuild.output
    app = restarted(site)
    url = serve_app(app)
    before = len(recorded_events(app))

    requests.get(url + "/", timeout=10)
    requests.get(url + "/any/page", timeout=10)

    fired = recorded_events(app)[before:]
    assert fired == [("booking_modified", {"property_uid": 1, "contract_uid": 41})] * 2


def test_api_calls_do_not_fire_it(site, serve_app, restarted):
    """The remote service calling the API back must not cause another notification."""
    plugins_dir = Path(site.kit.settings["JOMRESKIT_PLUGINS_DIR"])
    plugins_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE, plugins_dir)
    site.cli("plugins", "rebuild")
    app = restarted(site)
    url = serve_app(app)
    before = len(recorded_events(app))

    requests.get(url + "/api/webhooks/1/booking_modified/41", timeout=10)
    requests.get(url + "/api", timeout=10)

    assert recorded_events(app)[before:] == []


def test_disabling_it_stops_a_running_site_firing_without_a_restart(site, serve_app, restarted):
    plugins_dir = Path(site.kit.settings["JOMRESKIT_PLUGINS_DIR"])
    plugins_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE, plugins_dir)
    site.cli("plugins", "rebuild")
    app = restarted(site)
    url = serve_app(app)
    requests.get(url + "/", timeout=10)
    before = len(recorded_events(app))

    disabled = site.cli("plugins", "disable", "fake_webhook_calls")  # another process, say
    get_kit(app)._next_registry_check = 0.0  # as two seconds later
    requests.get(url + "/", timeout=10)
    requests.get(url + "/any/page", timeout=10)

    assert disabled.exit_code == 0, disabled.output
    assert "running sites and workers pick the change up within seconds" in disabled.output
    assert recorded_events(app)[before:] == []
