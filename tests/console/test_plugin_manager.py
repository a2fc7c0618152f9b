"""The Plugin Manager: super managers see every installed plugin and enable, disable and
rebuild the registry, with the core's reasons when it refuses."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from jomreskit.console.testing import flashes, sign_in, token_in

CHANNEL_RATES_PAGE = Path(__file__).with_name("channel_rates_page.py")


def plugin_enabled(site, name: str) -> bool:
    listed = json.loads(site.cli("plugins", "list", "--json").output)
    return next(p for p in listed if p["name"] == name)["enabled"]


def row_of(page, name: str) -> str:
    match = re.search(rf'<tr id="plugin-{name}">(.*?)</tr>', page.text, re.S)
    assert match, f"no row for {name}"
    return re.sub(r"\s+", " ", match.group(1))


def test_a_manager_can_neither_see_nor_use_it(site):
    client = site.client()
    sign_in(client, "manager")
    token = token_in(client.get("/console/"))

    assert client.get("/console/plugins").status_code == 403
    for action in ("authmethod_basic/disable", "authmethod_basic/enable", "rebuild"):
        answer = client.post(f"/console/plugins/{action}", data={"csrf_token": token})
        assert answer.status_code == 403, action
    assert plugin_enabled(site, "authmethod_basic")


def test_it_lists_each_plugin_with_version_state_and_hooks(site_with_rates_page):
    client = site_with_rates_page.client()
    sign_in(client, "super")

    page = client.get("/console/plugins")

    row = row_of(page, "channel_rates_page")
    assert "file" in row
    assert "active" in row
    assert "register_console_pages" in row
    assert "Disable channel_rates_page" in row


def test_a_broken_plugin_shows_its_error(site, restart):
    plugins_dir = Path(site.kit.settings["JOMRESKIT_PLUGINS_DIR"])
    plugins_dir.mkdir(parents=True, exist_ok=True)
    (plugins_dir / "typo_plugin.py").write_text(
        "from jomreskit import hookimpl\n\n@hookimpl\ndef register_eventz():\n    return []\n"
    )
    site.cli("plugins", "rebuild")
    client = restart(site).client()
    sign_in(client, "super")

    row = row_of(client.get("/console/plugins"), "typo_plugin")

    assert "error" in row
    assert "register_eventz" in row


def test_disabling_a_plugin_others_need_is_refused_with_the_reason(site):
    client = site.client()
    sign_in(client, "super")
    page = client.get("/console/plugins")

    answer = client.post("/console/plugins/api_core/disable", data={"csrf_token": token_in(page)},
                         follow_redirects=True)

    assert flashes(answer) == [
        "cannot disable api_core: api_feature_availability, api_feature_bookings, "
        "api_feature_events, api_feature_handover, api_feature_search, api_feature_webhooks "
        "require it; "
        "disable them first"
    ]
    assert "Disable api_core" in row_of(answer, "api_core")


def test_disable_then_enable(site):
    client = site.client()
    sign_in(client, "super")
    token = token_in(client.get("/console/plugins"))

    disabled = client.post("/console/plugins/authmethod_basic/disable",
                           data={"csrf_token": token}, follow_redirects=True)
    assert flashes(disabled) == ["Disabled authmethod_basic."]
    assert "disabled" in row_of(disabled, "authmethod_basic")

    enabled = client.post("/console/plugins/authmethod_basic/enable",
                          data={"csrf_token": token}, follow_redirects=True)
    assert flashes(enabled)[0].startswith("Enabled authmethod_basic")
    assert "active" in row_of(enabled, "authmethod_basic")


def test_rebuilding_the_registry_picks_up_a_newly_installed_plugin(site):
    client = site.client()
    sign_in(client, "super")
    plugins = client.get("/console/plugins")
    assert 'id="plugin-channel_rates_page"' not in plugins.text
    plugins_dir = Path(site.kit.settings["JOMRESKIT_PLUGINS_DIR"])
    plugins_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(CHANNEL_RATES_PAGE, plugins_dir)

    answer = client.post("/console/plugins/rebuild", data={"csrf_token": token_in(plugins)},
                         follow_redirects=True)

    assert flashes(answer)[0].startswith("Registry rebuilt: ")
    assert flashes(answer)[0].endswith(" plugins, none with errors.")
    assert "active" in row_of(answer, "channel_rates_page")
