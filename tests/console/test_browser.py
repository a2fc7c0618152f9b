"""The console end to end in a real headless Chromium: the demo manager creates an API key and a
basic-auth webhook, tests it, watches a delivery fail and be retried, and redelivers it; another
manager sees none of it; the super manager gets no Webhooks page. A booking no channel manager
acknowledged is on its manager's Missed bookings page, and not on another manager's.

Screenshots of every page go to test-artifacts/screenshots/ (the README shows some of them).
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from werkzeug.wrappers import Request, Response

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.browser


class Receiver:
    """The remote service: accepts notifications with the right Basic credentials while it
    works, and answers 500 once it is broken."""

    def __init__(self) -> None:
        self.broken = False
        self.received: list[tuple[str, str]] = []  # (event type, Authorization header)
        self.lock = threading.Lock()
        self.url = ""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.received.append((request.get_json(silent=True)["type"],
                                  request.headers.get("Authorization", "")))
        if self.broken:
            return Response("database down", status=500)(environ, start_response)
        return Response("received", status=200)(environ, start_response)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def served(site, restart, serve_app) -> tuple[Any, str, Receiver]:
    """The demo site, started as `jomreskit serve` would, and a receiver, both on loopback."""
    running = restart(site)
    receiver = Receiver()
    receiver.url = serve_app(receiver) + "/jomres/notify"
    return running, serve_app(running.app), receiver


class Shots:
    """Names each screenshot after the page and writes it to the screenshots folder."""

    def __init__(self) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Any, name: str, full_page: bool = True) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def sign_in(page: Any, base: str, username: str) -> None:
    """Sign in with the keyboard, as the demo users do (password = username)."""
    page.goto(base + "/console/")
    assert page.url.startswith(base + "/console/sign-in")
    page.get_by_label("Username").focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(username)
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/console/")
    assert page.locator(".flash-success").inner_text() == f"Signed in as {username}."


def sign_out(page: Any) -> None:
    page.locator("summary", has_text="Account").click()
    page.get_by_role("button", name="Sign out").click()
    assert page.locator(".flash-success").inner_text() == "Signed out."


def open_from_menu(page: Any, title: str) -> None:
    """Open the Account menu (if it is closed) and follow one of its entries.

    Returns once the new page has loaded: a click only waits for the navigation to begin, and
    the checks that follow (`is_visible`, `count`) do not wait, so they could read the old page.
    """
    nav = page.get_by_role("navigation", name="Account")
    if not nav.locator("details").evaluate("menu => menu.open"):
        nav.locator("summary").click()
    link = nav.get_by_role("link", name=title, exact=True)
    target = urljoin(page.url, link.get_attribute("href"))
    link.click()
    page.wait_for_url(target)


def menu(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("nav[aria-label=Account] li a").all_text_contents()]


def flash(page: Any) -> str:
    return page.locator(".flash").first.inner_text()


def test_the_manager_console_end_to_end(served, browser):
    site, base, receiver = served
    shot = Shots()
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())

    # Sign in as the demo manager; the Account menu offers what the installed plugins offer.
    page.goto(base + "/console/")
    shot(page, "sign-in")
    sign_in(page, base, "manager")
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")  # brand
    page.keyboard.press("Tab")  # the Account menu
    page.keyboard.press("Enter")
    assert page.get_by_role("link", name="Webhook deliveries", exact=True).first.is_visible()
    assert menu(page) == [
        "App Key Management", "Missed bookings", "Webhook dashboard", "Webhook deliveries",
        "Webhooks"]
    shot(page, "account-menu", full_page=False)

    # App Key Management: tick the scope by its description; the secret is shown once.
    open_from_menu(page, "App Key Management")
    page.get_by_label("What is it for?").fill("Channel manager")
    page.get_by_label("Get data as part of a webhook communication").check()
    page.get_by_role("button", name="Create key").click()
    client_id = page.locator("#new-client-id").input_value()
    secret = page.locator("#new-client-secret").input_value()
    assert secret.startswith("jks_")
    page.locator("button[data-copy=new-client-secret]").click()
    # The clipboard write is asynchronous: wait for the button to say it is done.
    page.wait_for_function(
        "document.querySelector('button[data-copy=new-client-secret]').textContent === 'Copied'",
        timeout=5000)
    assert page.evaluate("navigator.clipboard.readText()") == secret
    shot(page, "app-key-management")
    token = requests.post(base + "/api/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(client_id, secret), timeout=10)
    assert token.status_code == 200 and token.json()["scope"] == "webhooks_get"
    page.reload()
    assert secret not in page.content()

    # Webhooks: a basic-auth webhook to the receiver, settings built from the method's fields.
    open_from_menu(page, "Webhooks")
    page.get_by_role("link", name="Add a webhook").click()
    page.get_by_label("URL", exact=True).fill(receiver.url)
    assert not page.get_by_label("Password").is_visible()
    page.get_by_label("HTTP Basic authentication").check()
    page.get_by_label("Username").fill("channel")
    page.get_by_label("Password").fill("s3cret-pass")
    page.get_by_text("Events: all events").click()
    page.get_by_label("booking_modified").check()
    shot(page, "webhook-form")
    page.get_by_role("button", name="Create webhook").click()
    assert page.locator("#signing-secret").input_value().startswith("whsec_")
    assert "s3cret-pass" not in page.content()
    shot(page, "webhooks")

    # Send a test event: it is delivered, with the webhook's Basic credentials.
    page.get_by_role("button", name=re.compile("Send a test event to webhook")).click()
    assert re.fullmatch(r"Test event delivered: HTTP 200 in \d+ ms\.", flash(page))
    basic = "Basic " + base64.b64encode(b"channel:s3cret-pass").decode()
    assert receiver.received == [("ping", basic)]
    assert page.locator(".delivery .badge").first.inner_text() == "succeeded"

    # The receiver breaks: a booking change fails, and the page shows the retry schedule.
    receiver.broken = True
    site.cli("events", "fire", "booking_modified", "property_uid=1", "contract_uid=41")
    site.cli("worker", "--drain")
    page.reload()
    failed = page.locator("article.delivery", has_text="booking_modified")
    assert failed.locator(".badge").inner_text() == "pending"
    assert "database down" in failed.locator("table.attempts").inner_text()
    assert "500" in failed.locator("table.attempts").inner_text()
    schedule = failed.locator(".retry-schedule").inner_text()
    assert schedule.startswith("Next attempt (2 of 10):")
    assert "follow after 5 min, 30 min, 2 h" in schedule
    shot(page, "deliveries")

    # Mended, it takes the notification when redelivered.
    receiver.broken = False
    failed.get_by_role("button", name=re.compile("Redeliver")).click()
    assert re.fullmatch(r"Delivery \d+ queued again; it is sent within moments\.", flash(page))
    site.cli("worker", "--drain")
    page.reload()
    done = page.locator("article.delivery", has_text="booking_modified")
    assert done.locator(".badge").inner_text() == "succeeded"
    assert done.locator("table.attempts tbody tr").count() == 2

    # On a phone-sized screen the same pages stack up.
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "deliveries-phone")
    page.goto(base + "/console/webhooks/")
    shot(page, "webhooks-phone")
    page.set_viewport_size({"width": 1200, "height": 900})
    sign_out(page)

    # Another manager sees none of it, not even by address.
    sign_in(page, base, "manager2")
    page.goto(base + "/console/keys/")
    assert "You have no API keys yet." in page.content() and client_id not in page.content()
    page.goto(base + "/console/webhooks/")
    assert "You have no webhooks yet." in page.content() and receiver.url not in page.content()
    page.goto(base + "/console/webhooks/deliveries")
    assert "No deliveries yet." in page.content()
    page.goto(base + "/console/webhooks/deliveries?webhook=1")
    assert flash(page) == "no webhook 1"
    sign_out(page)

    # The super manager gets the Plugin Manager and the site's Webhook dashboard, and no
    # Webhooks page.
    sign_in(page, base, "super")
    assert menu(page) == ["App Key Management", "Missed bookings", "Plugin Manager",
                          "Webhook dashboard"]
    open_from_menu(page, "Plugin Manager")
    assert page.locator("#plugin-webhooks_core").get_by_text("active").is_visible()
    shot(page, "plugin-manager")
    answer = page.goto(base + "/console/webhooks/")
    assert answer.status == 403
    assert "Your account cannot use this page." in page.content()
    context.close()


def test_app_key_management_shows_where_each_key_is_in_the_event_feed(served, browser):
    from jomreskit_api_core.testing import create_key

    site, base, _receiver = served
    # A remote service follows the feed with one key and acknowledges half of what it read;
    # a second key has never acknowledged anything; a third cannot read the feed at all.
    reader, secret = create_key(site, "manager", ["events_get"], name="Feed reader")
    idle, _ = create_key(site, "manager", ["events_get"], name="Not started")
    callbacks_only, _ = create_key(site, "manager", ["webhooks_get"], name="Callbacks")
    token = requests.post(base + "/api/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(reader, secret), timeout=10).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    events = requests.get(base + "/api/events", params={"limit": 1000}, headers=bearer,
                          timeout=10).json()["data"]
    middle = events[len(events) // 2]
    acknowledged = requests.put(base + "/api/events/cursor", json={"cursor": middle["cursor"]},
                                headers=bearer, timeout=10)
    assert acknowledged.status_code == 200, acknowledged.text
    site.cli("events", "fire", "booking_modified", "property_uid=1", "contract_uid=41")
    behind = len(events) - len(events) // 2 - 1 + 1

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    sign_in(page, base, "manager")
    open_from_menu(page, "App Key Management")

    def feed_cell(client_id: str) -> str:
        return page.locator(f"#key-{client_id} td[data-label='Event feed']").inner_text().strip()

    assert page.get_by_role("columnheader", name="Event feed").is_visible()
    assert feed_cell(reader) == f"acknowledged event {middle['id']:,} – {behind} events behind"
    assert feed_cell(idle) == "never acknowledged"
    assert feed_cell(callbacks_only) == "—"
    Shots()(page, "app-key-management-event-feed")

    # Without the event feed plugin the page has no such column (the running site follows
    # the registry: no restart needed).
    assert site.cli("plugins", "disable", "api_feature_events").exit_code == 0
    site.kit._next_registry_check = 0.0  # as two seconds later
    page.reload()
    assert page.locator(f"#key-{reader}").is_visible()
    assert page.get_by_role("columnheader", name="Event feed").count() == 0
    assert page.locator("td[data-label='Event feed']").count() == 0
    context.close()


def test_missed_bookings_shows_a_manager_the_booking_no_channel_manager_took(
        site, restart, serve_app, browser):
    from jomreskit_api_core.testing import create_key

    from jomreskit.domain import services

    site.app.config["JOMRESKIT_HANDOVER_ALARM_MINUTES"] = "0"  # every revision due at once
    running = restart(site)
    base = serve_app(running.app)
    create_key(running, "manager", ["bookings_handover"], name="Channel manager")
    arrival = date.today() + timedelta(days=200)
    with running.app.app_context(), running.kit.transaction():
        booking = services.add_booking(running.kit, 1, arrival, arrival + timedelta(days=2), [2])
        contract_uid = booking.contract_uid
    checked = running.cli("handover", "check")
    assert checked.output.strip() == "1 unacknowledged booking revision alarmed", checked.output

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    sign_in(page, base, "manager")
    open_from_menu(page, "Missed bookings")

    assert page.get_by_role("heading", name="Missed bookings", level=1).is_visible()
    row = page.locator("tr[id^=alarm-]")
    assert row.count() == 1
    cells = {label: row.locator(f"td[data-label='{label}']").inner_text().strip()
             for label in ("Property", "Booking", "Change", "Acknowledged since")}
    assert cells == {"Property": "Fawlty Towers", "Booking": str(contract_uid),
                     "Change": "booking_added", "Acknowledged since": "no"}
    Shots()(page, "missed-bookings")

    # Another manager, who runs no property of the demo, is shown none of it.
    sign_out(page)
    sign_in(page, base, "manager2")
    open_from_menu(page, "Missed bookings")
    assert page.locator("tr[id^=alarm-]").count() == 0
    assert page.get_by_text("No missed bookings").is_visible()
    context.close()
