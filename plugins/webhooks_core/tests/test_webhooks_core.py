"""The webhooks_core plugin installs and is found as a plugin."""

from jomreskit.core import plugins


def test_webhooks_core_is_discovered_as_a_plugin():
    names = {candidate.name for candidate in plugins.discover(None)}
    assert "webhooks_core" in names


def test_webhooks_create_without_authmethod_names_the_installed_ones_when_none_is_missing(
        make_site):
    site = make_site(JOMRESKIT_LOAD_PLUGINS="webhooks_core,authmethod_basic")
    site.cli("demo", "seed")

    made = site.cli("webhooks", "create", "--manager", "manager", "--url",
                    "http://127.0.0.1:8001/")

    assert made.exit_code == 1
    assert made.output.strip() == (
        "Error: say how to sign in there with --authmethod (installed: basic); the default, "
        "none, comes with the jomreskit-authmethod-none plugin")


def test_webhooks_create_defaults_to_none_when_it_is_installed(site):
    made = site.cli("webhooks", "create", "--manager", "manager", "--url",
                    "http://127.0.0.1:8001/", "--json")

    assert made.exit_code == 0, made.output
    assert '"authmethod": "none"' in made.output
