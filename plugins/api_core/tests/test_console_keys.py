"""App Key Management in the web console: a manager creates a key by ticking scopes by their
descriptions, sees its secret once, rotates and revokes it, and never sees anyone else's keys."""

from __future__ import annotations

import re
import sys

from jomreskit_api_core.testing import create_key

from jomreskit.console.testing import flashes, menu, sign_in, token_in


def secret_on(page) -> str:
    match = re.search(r'id="new-client-secret" type="text" value="([^"]+)"', page.text)
    assert match, "the page shows no new secret"
    return match.group(1)


def client_id_on(page) -> str:
    return re.search(r'id="new-client-id" type="text" value="([^"]+)"', page.text).group(1)


def token_status(site, client_id: str, secret: str) -> int:
    return site.client().post("/api/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(client_id, secret)).status_code


def test_the_page_is_in_every_signed_in_user_menu(api_site):
    for username in ("manager", "super"):
        client = api_site.client()
        sign_in(client, username)
        assert "App Key Management" in menu(client.get("/console/")), username


def test_scopes_are_ticked_by_their_descriptions(api_site):
    client = api_site.client()
    sign_in(client, "manager")

    page = client.get("/console/keys/")

    assert "Get data as part of a webhook communication" in page.text
    assert 'value="webhooks_get"' in page.text
    assert 'value="search_get"' not in page.text  # only super managers may grant it


def test_creating_a_key_shows_a_secret_that_works_once(api_site):
    client = api_site.client()
    sign_in(client, "manager")
    page = client.get("/console/keys/")

    created = client.post("/console/keys/", data={"csrf_token": token_in(page),
                                                 "name": "channel manager",
                                                 "scope": ["webhooks_get"]})

    assert created.status_code == 201
    client_id, secret = client_id_on(created), secret_on(created)
    assert flashes(created) == [
        f"Key {client_id} created. Copy its secret now: it cannot be shown again."]
    assert token_status(api_site, client_id, secret) == 200
    listing = client.get("/console/keys/")
    assert client_id in listing.text
    assert "channel manager" in listing.text
    assert secret not in listing.text


def test_a_key_without_scopes_is_refused_with_the_reason(api_site):
    client = api_site.client()
    sign_in(client, "manager")
    page = client.get("/console/keys/")

    answer = client.post("/console/keys/", data={"csrf_token": token_in(page), "name": "nothing"})

    assert answer.status_code == 422
    assert flashes(answer)[0].startswith("choose at least one scope for the key")
    assert "You have no API keys yet." in answer.text


def test_rotating_gives_a_new_secret_and_the_old_one_stops_working(api_site):
    client_id, old_secret = create_key(api_site, "manager")
    client = api_site.client()
    sign_in(client, "manager")

    rotated = client.post(f"/console/keys/{client_id}/rotate",
                          data={"csrf_token": token_in(client.get("/console/keys/"))})

    new_secret = secret_on(rotated)
    assert new_secret != old_secret
    assert token_status(api_site, client_id, old_secret) == 401
    assert token_status(api_site, client_id, new_secret) == 200


def test_revoking_a_key_stops_it(api_site):
    client_id, secret = create_key(api_site, "manager")
    client = api_site.client()
    sign_in(client, "manager")

    answer = client.post(f"/console/keys/{client_id}/revoke",
                         data={"csrf_token": token_in(client.get("/console/keys/"))},
                         follow_redirects=True)

    assert flashes(answer)[0].startswith(f"Key {client_id} revoked")
    assert "revoked" in re.search(rf'<tr id="key-{client_id}">(.*?)</tr>', answer.text, re.S)[1]
    assert token_status(api_site, client_id, secret) == 401


def test_a_manager_never_sees_or_touches_another_manager_keys(api_site):
    client_id, secret = create_key(api_site, "manager", name="Basil's channel manager")
    client = api_site.client()
    sign_in(client, "manager2")
    page = client.get("/console/keys/")

    assert client_id not in page.text
    assert "Basil's channel manager" not in page.text
    for action in ("rotate", "revoke"):
        answer = client.post(f"/console/keys/{client_id}/{action}",
                             data={"csrf_token": token_in(page)}, follow_redirects=True)
        assert flashes(answer) == [f"no API key '{client_id}'"]
    assert token_status(api_site, client_id, secret) == 200


KEY_COLUMNS_PLUGIN = '''
from jomreskit import hookimpl
from jomreskit_api_core import KeyColumn

requires = ["api_core"]
calls = []


def scope_count(kit, keys):
    calls.append([key.client_id for key in keys])
    return {key.id: f"{len(key.scopes)} scope(s) <b>" for key in keys if key.active}


def broken(kit, keys):
    raise RuntimeError("its table is missing")


@hookimpl
def api_key_columns():
    return [KeyColumn("Scope count", scope_count), KeyColumn("Broken", broken)]
'''


def cell(page, client_id: str, title: str) -> str:
    row = re.search(rf'<tr id="key-{client_id}">(.*?)</tr>', page.text, re.S)[1]
    return re.search(rf'<td data-label="{title}">(.*?)</td>', row, re.S)[1].strip()


def test_plugins_add_columns_filled_once_for_all_the_keys_shown(make_api_site, caplog):
    site = make_api_site(plugins=[KEY_COLUMNS_PLUGIN])
    first, _ = create_key(site, "manager", ["webhooks_get"])
    second, _ = create_key(site, "manager", ["webhooks_get"])
    client = site.client()
    sign_in(client, "manager")
    client.post(f"/console/keys/{second}/revoke",
                data={"csrf_token": token_in(client.get("/console/keys/"))})
    plugin = sys.modules["jomreskit_plugins.test_plugin_0"]
    plugin.calls.clear()

    page = client.get("/console/keys/")

    assert page.status_code == 200
    assert plugin.calls == [[first, second]]  # one call for the page, revoked keys too
    assert '<th scope="col">Scope count</th>' in page.text
    assert cell(page, first, "Scope count") == "1 scope(s) &lt;b&gt;"  # escaped
    assert cell(page, second, "Scope count") == "—"  # left out: a dash
    # A column that fails says so and is logged; the page and its other columns still work.
    assert cell(page, first, "Broken") == "unavailable"
    assert "the column 'Broken' could not be filled" in caplog.text
    assert "its table is missing" in caplog.text
    assert 'value="webhooks_get"' in page.text


def test_without_keys_no_column_is_asked_for(make_api_site):
    site = make_api_site(plugins=[KEY_COLUMNS_PLUGIN])
    client = site.client()
    sign_in(client, "manager2")
    plugin = sys.modules["jomreskit_plugins.test_plugin_0"]
    plugin.calls.clear()

    page = client.get("/console/keys/")

    assert "You have no API keys yet." in page.text
    assert plugin.calls == []


def test_a_failing_column_hook_leaves_the_page_working(make_api_site, caplog):
    site = make_api_site(plugins=['''
from jomreskit import hookimpl

requires = ["api_core"]


@hookimpl
def api_key_columns():
    raise RuntimeError("columns misconfigured")
'''])
    client_id, _ = create_key(site, "manager", ["webhooks_get"])
    client = site.client()
    sign_in(client, "manager")

    page = client.get("/console/keys/")

    assert page.status_code == 200
    assert f'<tr id="key-{client_id}">' in page.text
    assert "columns misconfigured" in caplog.text
