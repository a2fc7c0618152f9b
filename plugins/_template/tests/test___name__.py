"""The __name__ plugin on a real site (jomreskit's fixtures: `site` is set up and seeded)."""

import json


def test_its_event_is_registered_and_fires(site):
    assert "__name__" in site.kit.loaded.names
    assert "__name___checked" in site.kit.catalog

    result = site.cli("events", "fire", "__name___checked", "property_uid=1", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ids"] == {"property_uid": 1}
