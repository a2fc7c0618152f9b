"""The __plugin__ console page on a real site (jomreskit's fixtures: `site` is seeded; manager
runs Fawlty Towers and Best West Hotel, super is a super manager)."""

from jomreskit.console.testing import menu, sign_in


def test_a_manager_finds_it_in_the_menu_and_sees_their_properties(site):
    client = site.client()
    sign_in(client, "manager")

    home = client.get("/console/")
    page = client.get("/console/__dist__/")

    assert "__title__" in menu(home)
    assert page.status_code == 200
    assert "1: Fawlty Towers" in page.text and "2: Best West Hotel" in page.text


def test_it_is_for_managers_only(site):
    signed_out = site.client().get("/console/__dist__/")
    client = site.client()
    sign_in(client, "super")

    assert signed_out.status_code == 302  # to the sign-in page
    assert "__title__" not in menu(client.get("/console/"))
    assert client.get("/console/__dist__/").status_code == 403
