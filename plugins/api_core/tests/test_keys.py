"""API keys belong to a manager, hold scopes that manager may grant, and show their secret once."""

from __future__ import annotations

import json
from pathlib import Path

from jomreskit.domain import services

THINGS_PLUGIN = Path(__file__).with_name("things_plugin.py")


def keys_cli(site, *args):
    result = site.cli("keys", *args)
    return result.exit_code, result.output


def test_a_manager_creates_a_key_and_sees_its_secret_once(make_api_site):
    site = make_api_site(plugins=[THINGS_PLUGIN])

    code, output = keys_cli(site, "create", "--manager", "manager", "--scope", "things_get",
                            "--scope", "gadgets_get", "--name", "channel manager", "--json")
    created = json.loads(output)
    _, listed = keys_cli(site, "list", "--json")

    assert code == 0
    assert created["client_id"].startswith("jkc_")
    assert created["client_secret"].startswith("jks_") and len(created["client_secret"]) > 40
    assert created["scopes"] == ["things_get", "gadgets_get"]
    assert created["manager"] == "manager"
    assert json.loads(listed) == [{k: v for k, v in created.items() if k != "client_secret"}]
    assert created["client_secret"] not in listed


def test_keys_are_listed_per_manager(make_api_site):
    site = make_api_site(plugins=[THINGS_PLUGIN])
    for manager in ("manager", "manager2", "manager"):
        keys_cli(site, "create", "--manager", manager, "--scope", "things_get")

    _, mine = keys_cli(site, "list", "--manager", "manager", "--json")
    _, table = keys_cli(site, "list")

    assert [k["manager"] for k in json.loads(mine)] == ["manager", "manager"]
    assert table.splitlines()[0].split() == ["CLIENT_ID", "NAME", "MANAGER", "SCOPES", "ACTIVE",
                                             "CREATED_AT"]
    assert len(table.splitlines()) == 4


def test_a_manager_may_not_grant_a_super_managers_scope(make_api_site):
    site = make_api_site(plugins=[THINGS_PLUGIN])

    code, output = keys_cli(site, "create", "--manager", "manager", "--scope", "everything_get")
    super_code, super_output = keys_cli(site, "create", "--manager", "super",
                                        "--scope", "everything_get", "--json")

    assert code != 0
    assert "may not grant scope 'everything_get'" in output
    assert "things_get" in output  # says what the manager may grant instead
    assert super_code == 0 and json.loads(super_output)["scopes"] == ["everything_get"]


def test_unknown_scopes_and_managers_are_clear_errors(make_api_site):
    site = make_api_site(plugins=[THINGS_PLUGIN])

    _, unknown_scope = keys_cli(site, "create", "--manager", "manager", "--scope", "nope")
    _, unknown_manager = keys_cli(site, "create", "--manager", "basil", "--scope", "things_get")
    _, unknown_key = keys_cli(site, "revoke", "jkc_nope")

    assert "unknown scope 'nope'" in unknown_scope and "things_get" in unknown_scope
    assert "no manager 'basil'" in unknown_manager
    assert "no API key 'jkc_nope'" in unknown_key
    for output in (unknown_scope, unknown_manager, unknown_key):
        assert len(output.strip().splitlines()) == 1 and "Traceback" not in output


def test_revoked_keys_stay_listed_as_inactive_and_cannot_be_rotated(make_api_site):
    site = make_api_site(plugins=[THINGS_PLUGIN])
    _, output = keys_cli(site, "create", "--manager", "manager", "--scope", "things_get",
                         "--json")
    client_id = json.loads(output)["client_id"]

    revoke_code, revoked = keys_cli(site, "revoke", client_id)
    _, listed = keys_cli(site, "list", "--json")
    rotate_code, rotated = keys_cli(site, "rotate", client_id)

    assert revoke_code == 0 and revoked.strip() == f"revoked {client_id}"
    assert json.loads(listed)[0]["active"] is False
    assert json.loads(listed)[0]["revoked_at"]
    assert rotate_code != 0 and "is revoked" in rotated


def test_a_key_shrinks_to_what_its_manager_may_grant_now(make_api_site):
    site = make_api_site(plugins=[THINGS_PLUGIN])
    _, output = keys_cli(site, "create", "--manager", "super", "--scope", "everything_get",
                         "--scope", "things_get", "--json")
    created = json.loads(output)
    with site.app.app_context(), site.kit.transaction():
        services.update_user(site.kit, created["manager_id"], role="manager")
    response = site.client().post("/api/oauth/token", data={"grant_type": "client_credentials"},
                                  auth=(created["client_id"], created["client_secret"]))

    assert response.get_json()["scope"] == "things_get"
