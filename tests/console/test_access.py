"""Who sees what: the Account menu lists only the pages installed plugins offer to the user's
role, and every page refuses everyone else."""

from __future__ import annotations

import re

from jomreskit.console.testing import flashes, menu, sign_in, token_in


def test_signed_out_visitors_are_sent_to_sign_in_from_every_page(site_with_rates_page):
    client = site_with_rates_page.client()

    for path in ("/console/", "/console/plugins", "/console/channel-rates/"):
        answer = client.get(path)
        assert answer.status_code == 302, path
        assert answer.location.startswith("/console/sign-in?next="), path


def test_a_manager_sees_the_pages_offered_to_managers_only(site_with_rates_page):
    client = site_with_rates_page.client()
    sign_in(client, "manager")

    home = client.get("/console/")

    assert "Channel rates" in menu(home)
    assert "Plugin Manager" not in menu(home)
    assert "Channel rates of manager" in client.get("/console/channel-rates/").text
    assert client.get("/console/plugins").status_code == 403


def test_a_super_manager_sees_the_plugin_manager_but_not_manager_pages(site_with_rates_page):
    client = site_with_rates_page.client()
    sign_in(client, "super")

    home = client.get("/console/")

    assert "Plugin Manager" in menu(home)
    assert "Channel rates" not in menu(home)
    refused = client.get("/console/channel-rates/")
    assert refused.status_code == 403
    assert "Your account cannot use this page." in refused.text
    pushed = client.post("/console/channel-rates/push", data={"csrf_token": token_in(home)})
    assert pushed.status_code == 403


def test_a_plugin_page_form_is_guarded_like_the_console_own(site_with_rates_page):
    client = site_with_rates_page.client()
    sign_in(client, "manager")
    page = client.get("/console/channel-rates/")

    refused = client.post("/console/channel-rates/push", data={"note": "no token"})
    done = client.post("/console/channel-rates/push",
                       data={"note": "weekly", "csrf_token": token_in(page)},
                       follow_redirects=True)

    assert refused.status_code == 400
    assert flashes(done) == ["Rates pushed by manager (weekly)."]


def test_a_disabled_plugin_leaves_the_menu_and_its_pages_answer_404(site_with_rates_page):
    site = site_with_rates_page
    admin, manager = site.client(), site.client()
    sign_in(admin, "super")
    sign_in(manager, "manager")
    plugins = admin.get("/console/plugins")

    admin.post("/console/plugins/channel_rates_page/disable",
               data={"csrf_token": token_in(plugins)})

    assert "Channel rates" not in menu(manager.get("/console/"))
    assert manager.get("/console/channel-rates/").status_code == 404

    admin.post("/console/plugins/channel_rates_page/enable",
               data={"csrf_token": token_in(plugins)})

    assert "Channel rates" in menu(manager.get("/console/"))
    assert manager.get("/console/channel-rates/").status_code == 200


def test_the_console_lives_at_the_configured_prefix(make_site):
    site = make_site(JOMRESKIT_CONSOLE_PREFIX="/manage")
    site.cli("demo", "seed")
    client = site.client()

    assert client.get("/console/sign-in").status_code == 404
    answer = sign_in(client, "manager", prefix="/manage")
    assert answer.location == "/manage/"
    assert "Welcome, manager" in client.get("/manage/").text


def test_an_empty_prefix_turns_the_console_off(make_site):
    site = make_site(JOMRESKIT_CONSOLE_PREFIX="")

    assert site.client().get("/console/sign-in").status_code == 404


def test_console_pages_are_not_cached_or_framed(site):
    page = site.client().get("/console/sign-in")

    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_the_stylesheet_and_script_the_layout_links_are_served(site):
    page = site.client().get("/console/sign-in").text

    for asset in re.findall(r'(?:href|src)="(/console/static/[^"]+)"', page):
        assert site.client().get(asset).status_code == 200, asset
    assert len(re.findall(r"/console/static/", page)) == 2


def test_every_page_of_the_menu_answers_with_and_without_a_trailing_slash(site):
    for username in ("manager", "super"):
        client = site.client()
        sign_in(client, username)
        links = re.findall(r'<nav aria-label="Account">.*?</nav>',
                           client.get("/console/").text, re.S)[0]
        paths = [p for p in re.findall(r'href="([^"]+)"', links) if p.startswith("/console/")]
        if username == "manager":
            paths.append("/console/webhooks/deliveries")  # reached from each webhook
        assert len(paths) >= 2, (username, paths)
        for path in paths:
            bare = path.rstrip("/")
            for form in (bare, bare + "/"):
                answer = client.get(form, follow_redirects=True)
                assert answer.status_code == 200, (username, form)
