"""A plugin whose start-up hook raises is unloaded and reported; the plugins beside it start
exactly once each, so a healthy plugin that registers a blueprint keeps working."""

import os
import textwrap

import pytest

from jomreskit.testing import restart

HEALTHY = """
from flask import Blueprint
from jomreskit import EventType, hookimpl
from jomreskit.console import ConsolePage

site_pages = Blueprint("healthy", __name__)
console_pages = Blueprint("healthy_console", __name__, url_prefix="/healthy")


@site_pages.get("/healthy")
def hello():
    return "still here"


@console_pages.get("/")
def page():
    return "a console page"


class Service:
    started = False

    def start(self):
        self.started = True

    def stop(self):
        pass


@hookimpl
def init_app(kit, app):
    app.register_blueprint(site_pages)  # a second call would raise "already registered"


@hookimpl
def register_events():
    return [EventType("channel_synced", ("property_uid",), "A channel manager synced.")]


@hookimpl
def register_commands(cli):
    @cli.command("healthy")
    def healthy():
        print("healthy says hello")


@hookimpl
def register_api_routes(api):
    @api.route("/healthy", public=True, summary="Still here")
    def healthy_api():
        return {"healthy": True}


@hookimpl
def register_console_pages():
    return [ConsolePage("Healthy", "healthy_console.page", console_pages)]


@hookimpl
def background_services(kit):
    return [Service()]
"""

START_UP_HOOKS = {
    "register_events": "register_events()",
    "register_scopes": "register_scopes()",
    "register_authmethods": "register_authmethods()",
    "init_app": "init_app(kit, app)",
    "register_commands": "register_commands(cli)",
    "register_console_pages": "register_console_pages()",
    "register_api_routes": "register_api_routes(api)",
    "background_services": "background_services(kit)",
}


def drop_plugin(site, name, source):
    folder = site.kit.settings["JOMRESKIT_PLUGINS_DIR"]
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{name}.py"), "w") as handle:
        handle.write(textwrap.dedent(source))


@pytest.mark.parametrize("hook", sorted(START_UP_HOOKS))
@pytest.mark.parametrize("broken_name", ["aaa_broken", "zzz_broken"])  # before and after
def test_a_broken_start_up_hook_unloads_only_its_plugin(make_site, hook, broken_name):
    site = make_site()
    drop_plugin(site, "healthy", HEALTHY)
    drop_plugin(site, broken_name, f"""
        from jomreskit import hookimpl

        @hookimpl
        def {START_UP_HOOKS[hook]}:
            raise RuntimeError("no channel key configured")
    """)
    assert site.cli("plugins", "rebuild").exit_code == 0

    restarted = restart(site)  # must not raise
    services = restarted.kit.hooks.background_services(kit=restarted.kit)  # as `serve` starts

    kit = restarted.kit
    assert broken_name not in kit.loaded.names
    assert kit.loaded.problems[broken_name] == (
        f"not loaded: {hook} failed: RuntimeError: no channel key configured")
    assert any(broken_name in w and hook in w for w in kit.warnings)
    assert "healthy" in kit.loaded.names
    client = restarted.client()
    assert client.get("/healthy").get_data(as_text=True) == "still here"
    assert client.get("/api/healthy").get_json()["data"] == {"healthy": True}
    rules = [r.rule for r in restarted.app.url_map.iter_rules()]
    assert rules.count("/api/healthy") == 1
    assert rules.count("/console/healthy/") == 1
    assert rules.count("/healthy") == 1
    assert "channel_synced" in kit.catalog
    assert "booking_modified" in kit.catalog
    assert [type(s).__name__ for s in services].count("Service") == 1
    said = restarted.cli("healthy")
    assert said.exit_code == 0 and "healthy says hello" in said.output
