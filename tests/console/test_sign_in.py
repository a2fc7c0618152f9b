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


def _browser(site, address: str, **headers: str):
    client = site.client()
    client.environ_base.update({"REMOTE_ADDR": address, **headers})
    return client


def test_one_address_spraying_many_usernames_is_refused(site):
    sprayer = _browser(site, "203.0.113.7")
    answers = [sign_in(sprayer, f"user{n}", "123456").status_code for n in range(25)]

    assert answers[:20] == [401] * 20
    assert set(answers[20:]) == {429}
    assert sign_in(_browser(site, "198.51.100.1"), "manager").status_code == 302


def test_guessing_from_many_addresses_is_refused_but_the_real_users_browser_gets_in(site):
    real = _browser(site, "198.51.100.1")
    assert sign_in(real, "manager").status_code == 302  # the manager's own browser, known
    real.post("/console/sign-out", data={"csrf_token": token_in(real.get("/console/"))})

    for n in range(5):
        assert sign_in(_browser(site, f"203.0.113.{n}"), "manager", "guess").status_code == 401

    assert sign_in(_browser(site, "203.0.113.99"), "manager").status_code == 429
    assert sign_in(_browser(site, "203.0.113.99"), "manager", "guess").status_code == 429
    assert sign_in(real, "manager").status_code == 302  # not locked out by the guesser


def test_a_known_browser_behind_a_sprayers_address_still_gets_in(site):
    office = "203.0.113.7"  # one address for everyone: an office's or a hotel's NAT
    known = _browser(site, office)
    assert sign_in(known, "manager").status_code == 302
    known.post("/console/sign-out", data={"csrf_token": token_in(known.get("/console/"))})
    sprayer = _browser(site, office)
    answers = [sign_in(sprayer, f"user{n}", "123456").status_code for n in range(25)]
    assert answers[:20] == [401] * 20 and set(answers[20:]) == {429}

    assert sign_in(known, "manager").status_code == 302  # not locked out by the sprayer
    assert sign_in(_browser(site, office), "manager2").status_code == 429  # unknown browser


def test_a_known_browser_s_wrong_passwords_still_count_against_its_user(site):
    known = _browser(site, "198.51.100.1")
    assert sign_in(known, "manager").status_code == 302
    known.post("/console/sign-out", data={"csrf_token": token_in(known.get("/console/"))})

    for _ in range(5):
        assert sign_in(known, "manager", "guess").status_code == 401

    assert sign_in(known, "manager").status_code == 429
    assert sign_in(_browser(site, "198.51.100.2"), "manager").status_code == 429


def test_a_known_browser_is_still_refused_after_failures_of_its_own(site):
    client = site.client()
    assert sign_in(client, "manager").status_code == 302
    client.post("/console/sign-out", data={"csrf_token": token_in(client.get("/console/"))})

    for _ in range(5):
        assert sign_in(client, "manager", "guess").status_code == 401

    assert sign_in(client, "manager").status_code == 429


def test_behind_a_trusted_proxy_each_client_address_counts_alone(make_site):
    site = make_site(JOMRESKIT_TRUSTED_PROXIES=1)
    site.cli("demo", "seed")
    proxy = "10.0.0.2"  # every request comes through it
    sprayer = _browser(site, proxy, HTTP_X_FORWARDED_FOR="203.0.113.7")
    for n in range(20):
        sign_in(sprayer, f"user{n}", "123456")

    assert sign_in(sprayer, "manager").status_code == 429
    neighbour = _browser(site, proxy, HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert sign_in(neighbour, "manager").status_code == 302


def test_without_a_trusted_proxy_a_forged_forwarded_address_changes_nothing(site):
    for n in range(20):
        forger = _browser(site, "203.0.113.7", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
        sign_in(forger, f"user{n}", "123456")

    forger = _browser(site, "203.0.113.7", HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert sign_in(forger, "manager").status_code == 429


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


def _captured(client, site) -> str:
    """The session cookie's value, as someone who copied it from the browser holds it."""
    cookie = client.get_cookie(site.app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return cookie.value


def _replayed(site, value: str):
    """A fresh browser that presents a captured session cookie."""
    other = site.client()
    other.set_cookie(site.app.config["SESSION_COOKIE_NAME"], value)
    return other


def test_a_session_cookie_captured_before_signing_out_opens_nothing_afterwards(site):
    client = site.client()
    sign_in(client, "manager")
    captured = _captured(client, site)
    assert _replayed(site, captured).get("/console/").status_code == 200

    client.post("/console/sign-out", data={"csrf_token": token_in(client.get("/console/"))})

    replay = _replayed(site, captured)
    assert replay.get("/console/").status_code == 302
    assert replay.get("/console/keys/").status_code == 302  # nor any plugin's page


def test_signing_out_in_one_browser_leaves_the_users_other_sessions_alone(site):
    laptop, phone = site.client(), site.client()
    sign_in(laptop, "manager")
    sign_in(phone, "manager")

    laptop.post("/console/sign-out", data={"csrf_token": token_in(laptop.get("/console/"))})

    assert laptop.get("/console/").status_code == 302
    assert phone.get("/console/").status_code == 200


def test_a_password_change_ends_even_a_captured_session(site):
    client = site.client()
    sign_in(client, "manager")
    captured = _captured(client, site)

    result = site.cli("users", "set-password", "manager", "--password-stdin",
                      input="a much better password\n")

    assert result.exit_code == 0, result.output
    assert _replayed(site, captured).get("/console/").status_code == 302
    assert sign_in(site.client(), "manager", "a much better password").status_code == 302


def test_a_role_change_ends_every_session_of_that_user(site):
    client = site.client()
    sign_in(client, "manager2")
    other = site.client()
    sign_in(other, "manager")

    with site.app.app_context(), site.kit.transaction():
        user = services.user_by_name(site.kit, "manager2")
        services.update_user(site.kit, user.manager_id, role="super")

    assert client.get("/console/").status_code == 302
    assert other.get("/console/").status_code == 200  # other users keep theirs
