"""The plugin registry: discovery, validation, enable/disable; a site survives bad plugins; a
plugin offers hooks of its own to other plugins (its ``hookspecs``), as api_core offers
``register_api_routes``, and `plugins rebuild` checks their implementations as the core's."""

import json
import textwrap

import pytest

from jomreskit import create_app, get_kit
from jomreskit.testing import restart

GOOD_PLUGIN = """
from jomreskit import EventType, hookimpl

@hookimpl
def register_events():
    return [EventType("channel_synced", ("property_uid",), "A channel manager finished a sync.")]
"""


def drop_plugin(site, name, source):
    folder = site.kit.settings["JOMRESKIT_PLUGINS_DIR"]
    import os

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{name}.py"), "w") as handle:
        handle.write(textwrap.dedent(source))


def registry(site):
    result = site.cli("plugins", "list", "--json")
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.output)}


def test_installed_plugins_are_in_the_registry_with_their_hooks(make_site):
    site = make_site()
    rows = registry(site)
    assert {"api_core", "webhooks_core", "authmethod_none"} <= set(rows)
    assert rows["api_core"]["source"] == "entrypoint"
    assert rows["api_core"]["version"] == "0.1.0"
    assert rows["api_feature_webhooks"]["requires"] == ["api_core"]
    assert all(row["enabled"] for row in rows.values())


def test_a_dropped_in_file_plugin_appears_after_rebuild_and_its_events_work(make_site):
    site = make_site()
    drop_plugin(site, "channel_sync", GOOD_PLUGIN)
    assert "channel_synced" not in site.kit.catalog

    result = site.cli("plugins", "rebuild")

    assert result.exit_code == 0, result.output
    row = registry(site)["channel_sync"]
    assert row["source"] == "file"
    assert row["hooks"] == ["register_events"]
    assert row["error"] is None
    assert "channel_synced" in restart(site).kit.catalog


def test_a_new_plugin_is_not_active_until_the_registry_is_rebuilt(make_site):
    site = make_site()
    drop_plugin(site, "channel_sync", GOOD_PLUGIN)

    restarted = restart(site)

    assert "channel_synced" not in restarted.kit.catalog
    assert any(
        "channel_sync is new" in w and "jomreskit plugins rebuild" in w
        for w in restarted.kit.warnings
    )


def test_a_plugin_that_raises_on_import_is_listed_with_its_error_and_skipped(make_site):
    site = make_site()
    drop_plugin(site, "broken", "raise RuntimeError('no database driver for the channel')\n")
    drop_plugin(site, "channel_sync", GOOD_PLUGIN)

    result = site.cli("plugins", "rebuild")

    assert result.exit_code == 0, result.output
    rows = registry(site)
    assert (
        "import failed: RuntimeError: no database driver for the channel" in rows["broken"]["error"]
    )
    assert rows["channel_sync"]["error"] is None
    restarted = restart(site)
    assert "channel_synced" in restarted.kit.catalog
    assert "broken" not in restarted.kit.loaded.names
    assert restarted.cli("events", "list").exit_code == 0


def test_unknown_hooks_and_wrong_hook_arguments_are_validation_errors(make_site):
    site = make_site()
    drop_plugin(
        site,
        "misspelt",
        """
        from jomreskit import hookimpl

        @hookimpl
        def register_event():
            return []
    """,
    )
    drop_plugin(
        site,
        "wrong_args",
        """
        from jomreskit import hookimpl

        @hookimpl
        def event_fired(kit, event, webhook):
            pass
    """,
    )

    site.cli("plugins", "rebuild")

    rows = registry(site)
    assert "register_event" in rows["misspelt"]["error"]
    assert "unknown hook" in rows["misspelt"]["error"]
    assert "webhook" in rows["wrong_args"]["error"]
    assert {"misspelt", "wrong_args"}.isdisjoint(restart(site).kit.loaded.names)


def test_missing_requirements_and_incompatible_core_versions_are_refused(make_site):
    site = make_site()
    drop_plugin(site, "needs_channel", 'requires = ["channel_manager"]\n')
    drop_plugin(site, "from_the_future", 'core_version = ">=9.0"\n')

    site.cli("plugins", "rebuild")

    rows = registry(site)
    assert "requires plugin channel_manager" in rows["needs_channel"]["error"]
    assert "needs jomreskit>=9.0, but 0.1.0 is installed" in rows["from_the_future"]["error"]


def test_disable_and_enable_round_trip(make_site):
    site = make_site()
    assert "api_feature_webhooks" in site.kit.loaded.names

    result = site.cli("plugins", "disable", "api_feature_webhooks")

    assert result.exit_code == 0, result.output
    assert registry(site)["api_feature_webhooks"]["enabled"] is False
    assert "api_feature_webhooks" not in restart(site).kit.loaded.names

    assert site.cli("plugins", "enable", "api_feature_webhooks").exit_code == 0
    assert registry(site)["api_feature_webhooks"]["enabled"] is True
    assert "api_feature_webhooks" in restart(site).kit.loaded.names


def test_a_plugin_that_an_enabled_plugin_requires_cannot_be_disabled(make_site):
    site = make_site()

    result = site.cli("plugins", "disable", "api_core")

    assert result.exit_code == 1
    assert "cannot disable api_core" in result.output
    assert "api_feature_search" in result.output and "api_feature_webhooks" in result.output
    assert "Traceback" not in result.output
    assert registry(site)["api_core"]["enabled"] is True


def test_disabling_an_unknown_plugin_is_one_clear_line(make_site):
    result = make_site().cli("plugins", "disable", "nonesuch")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: no plugin named 'nonesuch'; `jomreskit plugins list` shows them"
    )


def test_load_plugins_limits_what_is_loaded(make_site):
    site = make_site()
    only = restart_with(site, JOMRESKIT_LOAD_PLUGINS="authmethod_none,authmethod_basic")
    assert sorted(only.kit.loaded.names) == ["authmethod_basic", "authmethod_none"]
    none = restart_with(site, JOMRESKIT_LOAD_PLUGINS="")
    assert none.kit.loaded.names == []
    assert len(none.kit.catalog) == 38  # the core's own catalog is always there


def test_trace_plugins_writes_hook_calls_to_stderr(make_site, capfd):
    site = make_site()
    restart_with(site, JOMRESKIT_TRACE_PLUGINS=True)
    assert "register_events" in capfd.readouterr().err


def restart_with(site, **config):
    app = create_app({**site.app.config, **config})
    return type(site)(app, get_kit(app))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unset_up_database_loads_no_plugins_and_says_which_command(make_site, tmp_path):
    app = create_app({"JOMRESKIT_INSTANCE_PATH": str(tmp_path / "fresh")})
    kit = get_kit(app)
    assert kit.loaded.names == []
    assert any("jomreskit db upgrade" in w for w in kit.warnings)


def test_a_plugin_whose_hook_raises_at_start_up_is_skipped_and_reported(make_site):
    site = make_site()
    drop_plugin(
        site,
        "flaky",
        """
        from jomreskit import hookimpl

        @hookimpl
        def register_events():
            raise KeyError("channel_manager_url")
    """,
    )
    site.cli("plugins", "rebuild")

    restarted = restart(site)

    assert "flaky" not in restarted.kit.loaded.names
    assert "booking_modified" in restarted.kit.catalog
    row = registry(restarted)["flaky"]
    assert "register_events failed: KeyError: 'channel_manager_url'" in row["error"]


CHANNELS = """
import click
from jomreskit import hookimpl, hookspec
from jomreskit.cli import pass_kit


class hookspecs:
    @staticmethod
    @hookspec
    def channel_rates(property_uid):
        '''Return {channel: nightly rate} for the property.'''


@hookimpl
def register_commands(cli):
    @cli.command("channel-rates")
    @pass_kit
    def channel_rates(kit):
        for rates in kit.hooks.pm.hook.channel_rates(property_uid=1):
            click.echo(f"{rates}")
"""

PARTNER = """
from jomreskit import hookimpl

requires = ["channels"]


@hookimpl
def channel_rates(property_uid):
    return {"partner": 99 + property_uid}
"""


def rebuilt(site):
    """The registry rows after `plugins rebuild`, by name."""
    assert site.cli("plugins", "rebuild").exit_code == 0
    return registry(site)


def test_a_plugin_implements_a_hook_another_plugin_offers(make_site):
    site = make_site()
    drop_plugin(site, "channels", CHANNELS)
    drop_plugin(site, "partner", PARTNER)

    rows = rebuilt(site)
    said = restart(site).cli("channel-rates")

    assert (rows["channels"]["error"], rows["partner"]["error"]) == (None, None)
    assert rows["partner"]["hooks"] == ["channel_rates"]
    assert said.output == "{'partner': 100}\n"


def test_an_offered_hook_implemented_by_a_plugin_loaded_before_its_owner_is_called(make_site):
    site = make_site()
    drop_plugin(site, "channels", CHANNELS)
    drop_plugin(site, "aaa_partner", PARTNER.replace('requires = ["channels"]', ""))

    rows = rebuilt(site)
    restarted = restart(site)

    assert rows["aaa_partner"]["error"] is None
    assert restarted.kit.loaded.names.index("aaa_partner") < \
        restarted.kit.loaded.names.index("channels")
    assert restarted.cli("channel-rates").output == "{'partner': 100}\n"


def test_an_offered_hook_misspelt_or_with_a_wrong_argument_is_refused(make_site):
    site = make_site()
    drop_plugin(site, "channels", CHANNELS)
    drop_plugin(site, "misspelt", PARTNER.replace("def channel_rates(", "def channel_rate("))
    drop_plugin(site, "wrong_args", PARTNER.replace("(property_uid)", "(property_id)"))

    rows = rebuilt(site)

    assert "unknown hook 'channel_rate'" in rows["misspelt"]["error"]
    assert "property_id" in rows["wrong_args"]["error"]
    assert rows["channels"]["error"] is None
    assert {"misspelt", "wrong_args"}.isdisjoint(restart(site).kit.loaded.names)


def test_a_hook_already_offered_cannot_be_offered_again(make_site):
    site = make_site()
    drop_plugin(site, "channels", CHANNELS)
    drop_plugin(site, "copycat", CHANNELS.replace("channel-rates", "copied-rates"))
    drop_plugin(site, "core_copycat", """
        from jomreskit import hookspec

        class hookspecs:
            @staticmethod
            @hookspec
            def register_events():
                '''Mine now.'''
    """)

    rows = rebuilt(site)

    assert rows["channels"]["error"] is None
    assert rows["copycat"]["error"] == "it offers hook channel_rates, which is offered already"
    assert rows["core_copycat"]["error"] == (
        "it offers hook register_events, which is offered already")


def test_without_the_offering_plugin_only_an_optional_implementation_is_accepted(make_site):
    site = make_site()
    drop_plugin(site, "optional_partner", PARTNER.replace(
        'requires = ["channels"]', "").replace("@hookimpl", "@hookimpl(optionalhook=True)"))
    drop_plugin(site, "plain_partner", PARTNER.replace('requires = ["channels"]', ""))

    rows = rebuilt(site)

    assert rows["optional_partner"]["error"] is None
    assert "unknown hook 'channel_rates'" in rows["plain_partner"]["error"]
    assert "optional_partner" in restart(site).kit.loaded.names
