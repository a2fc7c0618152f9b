"""A site builds on each database and knows the Jomres event catalog."""


def test_a_fresh_site_has_the_jomres_catalog(make_site):
    site = make_site()
    names = {t.name for t in site.kit.catalog}
    assert {"booking_modified", "property_created", "tariffs_updated"} <= names
    assert len(names) == 38
