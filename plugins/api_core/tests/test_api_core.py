"""The api_core plugin installs and is found as a plugin."""

from jomreskit.core import plugins


def test_api_core_is_discovered_as_a_plugin():
    names = {candidate.name for candidate in plugins.discover(None)}
    assert "api_core" in names
