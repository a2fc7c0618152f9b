"""The api_feature_search plugin installs and is found as a plugin."""

from jomreskit.core import plugins


def test_api_feature_search_is_discovered_as_a_plugin():
    names = {candidate.name for candidate in plugins.discover(None)}
    assert "api_feature_search" in names
