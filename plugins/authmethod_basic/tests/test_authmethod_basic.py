"""The authmethod_basic plugin installs and is found as a plugin."""

from jomreskit.core import plugins


def test_authmethod_basic_is_discovered_as_a_plugin():
    names = {candidate.name for candidate in plugins.discover(None)}
    assert "authmethod_basic" in names
