"""Every console form carries a CSRF token; a form sent without this session's token changes
nothing and says why."""

from __future__ import annotations

import json

from jomreskit.console.testing import sign_in, token_in


def plugin_enabled(site, name: str) -> bool:
    listed = site.cli("plugins", "list", "--json")
    return next(p for p in json.loads(listed.output) if p["name"] == name)["enabled"]


def test_sign_in_without_the_token_is_refused(site):
    client = site.client()
    client.get("/console/sign-in")

    answer = client.post("/console/sign-in", data={"username": "manager", "password": "manager"})

    assert answer.status_code == 400
    assert "This form has expired or did not come from this site." in answer.text
    assert client.get("/console/").status_code == 302


def test_a_token_from_another_session_is_refused(site):
    attacker = site.client()
    stolen = token_in(attacker.get("/console/sign-in"))
    victim = site.client()
    sign_in(victim, "super")

    answer = victim.post("/console/plugins/authmethod_basic/disable",
                         data={"csrf_token": stolen})

    assert answer.status_code == 400
    assert plugin_enabled(site, "authmethod_basic")


def test_a_signed_in_action_without_the_token_is_refused(site):
    client = site.client()
    sign_in(client, "super")

    answer = client.post("/console/plugins/authmethod_basic/disable")

    assert answer.status_code == 400
    assert plugin_enabled(site, "authmethod_basic")


def test_sign_out_without_the_token_does_not_sign_out(site):
    client = site.client()
    sign_in(client, "manager")

    assert client.post("/console/sign-out").status_code == 400
    assert client.get("/console/").status_code == 200


def test_signing_in_gives_the_session_a_new_token(site):
    client = site.client()
    before = token_in(client.get("/console/sign-in"))

    sign_in(client, "manager")

    assert token_in(client.get("/console/")) != before
