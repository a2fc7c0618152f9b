"""Fixtures for the console's tests: restarted sites, a site with a plugin page."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jomreskit import testing
from jomreskit.testing import Site

CHANNEL_RATES_PAGE = Path(__file__).with_name("channel_rates_page.py")


@pytest.fixture
def restart() -> Iterator[Callable[[Site], Site]]:
    """The same site started again (as `jomreskit serve` would): plugins registered since the
    first start are loaded, and their console pages mounted."""
    started: list[Site] = []

    def start(site: Site) -> Site:
        started.append(testing.restart(site))
        return started[-1]

    yield start
    for site in started:
        site.kit.session.remove()
        site.kit.engine.dispose()


@pytest.fixture
def site_with_rates_page(site: Site, restart: Callable[[Site], Site]) -> Site:
    """The demo site with a plugin file that offers managers a "Channel rates" page."""
    plugins_dir = Path(site.kit.settings["JOMRESKIT_PLUGINS_DIR"])
    plugins_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(CHANNEL_RATES_PAGE, plugins_dir)
    result = site.cli("plugins", "rebuild")
    assert result.exit_code == 0, result.output
    return restart(site)
