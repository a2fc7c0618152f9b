"""The __name__ plugin installs and is found as a plugin."""

from jomreskit.core import plugins


def test___name___is_discovered_as_a_plugin():
    names = {candidate.name for candidate in plugins.discover(None)}
    assert "__name__" in names
