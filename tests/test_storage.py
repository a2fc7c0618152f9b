"""Migrations build exactly what the models describe, on SQLite and PostgreSQL."""

from jomreskit.core import migrate


def test_after_db_upgrade_the_database_matches_every_model(make_site):
    site = make_site()
    assert migrate.pending_changes(site.kit.engine) == ""


def test_db_upgrade_is_repeatable_and_reports_each_plugin(make_site):
    site = make_site()
    result = site.cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "core: up to date (0001)" in result.output
    assert "building the plugin registry" not in result.output


def test_a_fresh_database_builds_the_registry_on_first_upgrade(make_site):
    site = make_site()
    assert site.kit.loaded.names  # make_site ran the first `db upgrade`
    assert "api_core" in site.kit.loaded.names
