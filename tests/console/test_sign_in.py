"""Signing in to the console: demo passwords, refusals that give nothing away, the session
cookie, signing out, and where a sign-in leads."""

from __future__ import annotations

from jomreskit.console.testing import flashes, sign_in, token_in
from jomreskit.domain import services


def test_a_manager_signs_in_with_their_password_and_lands_where_they_were_going(site):
    client = site.client()

    asked = client.get("/console/plugins")
    assert asked.status_code == 302
    assert asked.location == "/console/sign-in?next=/console/plugins"

    answer = sign_in(client, "manager", next="/console/")
    assert answer.status_code == 302
    assert answer.location == "/console/"
    home = client.get("/console/")
    assert home.status_code == 200
    assert "Welcome, manager" in home.text
    assert "Signed in as manager." in flashes(home)


def test_the_session_cookie_is_http_only_and_same_site_lax(site):
    answer = sign_in(site.client(), "manager")

    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # a plain-HTTP demo site; see the next test


def test_the_session_cookie_is_secure_when_configured(make_site):
    site = make_site(JOMRESKIT_CONSOLE_SECURE_COOKIE=True)
    site.cli("demo", "seed")

    page = site.client().get("/console/sign-in")

    assert "Secure" in page.headers["Set-Cookie"]


def test_a_wrong_password_an_unknown_user_and_a_user_without_password_fail_alike(site):
    with site.app.app_context(), site.kit.transaction():
        services.create_user(site.kit, "nopass", role="manager")
    client = site.client()

    answers = [sign_in(client, "manager", "not-the-password"),
               sign_in(client, "nobody", "nobody"),
               sign_in(client, "nopass", "")]

    for answer in answers:
        assert answer.status_code == 401
        assert flashes(answer) == ["Wrong username or password."]
    assert client.get("/console/").status_code == 302  # still signed out


def test_repeated_failures_lock_that_username_out_for_a_while(site):
    client = site.client()
    for _ in range(5):
        assert sign_in(client, "manager", "guess").status_code == 401

    answer = sign_in(client, "manager")  # even the right password, now

    assert answer.status_code == 429
    assert flashes(answer)[0].startswith("Too many failed sign-ins.")
    assert sign_in(client, "manager2").status_code == 302  # other users are not affected


def test_signing_out_ends_the_session(site):
    client = site.client()
    sign_in(client, "manager")
    home = client.get("/console/")

    answer = client.post("/console/sign-out", data={"csrf_token": token_in(home)},
                         follow_redirects=True)

    assert "Signed out." in flashes(answer)
    assert client.get("/console/").status_code == 302


def test_changing_the_password_ends_every_session_of_that_user(site):
    client = site.client()
    sign_in(client, "manager")
    assert client.get("/console/").status_code == 200

    with site.app.app_context(), site.kit.transaction():
        user = services.user_by_name(site.kit, "manager")
        services.update_user(site.kit, user.manager_id, password="a new password")

    assert client.get("/console/").status_code == 302


def test_a_session_older_than_its_lifetime_is_signed_out(make_site):
    site = make_site(JOMRESKIT_CONSOLE_SESSION_LIFETIME=0)
    site.cli("demo", "seed")
    client = site.client()

    sign_in(client, "manager")

    assert client.get("/console/").status_code == 302


def test_after_signing_in_only_console_addresses_are_followed(site):
    for target in ("https://evil.example/", "//evil.example/console/", "/elsewhere",
                   "/console\\..\\evil"):
        answer = sign_in(site.client(), "manager", next=target)
        assert answer.location == "/console/", target
