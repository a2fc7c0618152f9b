"""The authmethod_none plugin installs and is found as a plugin."""

from jomreskit.core import plugins


def test_authmethod_none_is_discovered_as_a_plugin():
    names = {candidate.name for candidate in plugins.discover(None)}
    assert "authmethod_none" in names
