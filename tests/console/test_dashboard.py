"""The Webhook dashboard in a real headless Chromium, read from its screenshots: each hour's bar
is drawn where the seeded attempts are, in its outcome's colour; on a phone the page fits the
screen with nothing to scroll sideways; the site owner sees every webhook.

The screenshots go to test-artifacts/screenshots/ (the README shows two of them).
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from jomreskit_webhooks_core import chart, dashboard, services
from jomreskit_webhooks_core.models import FAILED, PENDING, SUCCEEDED, Delivery, DeliveryAttempt
from jomreskit_webhooks_core.models import Webhook as WebhookRow
from PIL import Image
from sqlalchemy import update

from jomreskit.db import utcnow

from .test_browser import SCREENSHOTS, browser, sign_in, sign_out  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# Hours back from the first shown: (outcome, attempts), one outcome per hour so a bar is one.
SEEDED = {17: (SUCCEEDED, 40), 19: ("retrying", 20), 21: (FAILED, 20)}


def seed(site) -> tuple[int, int, dict[str, str]]:
    """Two webhooks of the demo manager: one with 40 successes, 20 retried and 20 given-up
    attempts in three hours; one whose circuit is open, with a backlog. Returns their ids and
    the seeded hours as the chart names them."""
    now = utcnow()
    first = dashboard.first_hour(now)
    hours = {}
    with site.app.app_context(), site.kit.transaction() as session:
        busy, _ = services.create_webhook(site.kit, "manager", "https://channel.example/hooks")
        down, _ = services.create_webhook(site.kit, "manager", "https://down.example/hooks")
        session.flush()
        for index, (outcome, count) in SEEDED.items():
            start = first + timedelta(hours=index)
            hours[outcome] = f"{start:%Y-%m-%dT%H:%MZ}"
            for n in range(count):
                attempted_at = start + timedelta(seconds=30 * n + 1)
                status = {"retrying": PENDING}.get(outcome, outcome)
                delivery = Delivery(
                    webhook_id=busy.id, event_type="booking_modified", msg_id=f"msg_{index}_{n}",
                    payload="{}", status=status, attempts=1, created_at=attempted_at,
                    next_attempt_at=(attempted_at if outcome != "retrying"
                                     else now + timedelta(hours=2)))
                session.add(delivery)
                session.flush()
                session.add(DeliveryAttempt(
                    delivery_id=delivery.id, attempted_at=attempted_at, duration_ms=40 + n,
                    status_code=200 if outcome == SUCCEEDED else 500,
                    error=None if outcome == SUCCEEDED else "HTTP 500"))
        for minutes in (3, 7, 12):
            session.add(Delivery(webhook_id=down.id, event_type="booking_modified",
                                 msg_id=f"down_{minutes}", payload="{}", status=PENDING,
                                 next_attempt_at=now - timedelta(minutes=minutes)))
        session.execute(update(WebhookRow).where(WebhookRow.id == down.id).values(
            circuit="open", circuit_opened_at=now - timedelta(minutes=12),
            circuit_until=now + timedelta(minutes=8), circuit_opens=3,
            failing_since=now - timedelta(hours=5)))
    return busy.id, down.id, hours


def near(pixel: tuple[int, ...], colour: str, tolerance: int = 40) -> bool:
    wanted = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], wanted, strict=True))


def share_of(shot: Image.Image, box: dict[str, float], colour: str) -> float:
    """The share of the pixels inside ``box`` (less a pixel all round) near ``colour``."""
    left, top = int(box["x"]) + 1, int(box["y"]) + 1
    right, bottom = int(box["x"] + box["width"]) - 1, int(box["y"] + box["height"]) - 1
    assert right > left and bottom > top, f"a bar too small to see: {box}"
    pixels = [shot.getpixel((x, y)) for x in range(left, right) for y in range(top, bottom)]
    return sum(near(p, colour) for p in pixels) / len(pixels)


def screenshot(page, name: str) -> Image.Image:
    """The whole page as an image (saved too), in CSS pixels (device scale 1)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    data = page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    return Image.open(io.BytesIO(data)).convert("RGB")


def on_page(page, box: dict[str, float]) -> dict[str, float]:
    """An element's box (as Playwright gives it, from the window's corner) on the whole page."""
    x, y = page.evaluate("[window.scrollX, window.scrollY]")
    return {**box, "x": box["x"] + x, "y": box["y"] + y}


def check_bars(page, webhook_id: int, hours: dict[str, str], shot: Image.Image) -> None:
    """Each seeded hour's bar, in the webhook's chart, is drawn in its outcome's colour (the
    patterned ones mostly), as tall as its count on the chart's scale; an empty hour is blank."""
    figure = page.locator(f"#health-{webhook_id} svg.chart")
    svg_box = on_page(page, figure.bounding_box())
    scale = svg_box["width"] / chart.WIDTH
    assert figure.get_attribute("data-scale-top") == "50"
    for outcome, hour in hours.items():
        bar = figure.locator(f"g.hour[data-hour='{hour}'] rect.bar-{outcome}")
        count = dict(SEEDED.values())[outcome]
        assert bar.get_attribute("data-count") == str(count)
        box = on_page(page, bar.bounding_box())
        assert box["height"] == pytest.approx(chart.PLOT_HEIGHT * count / 50 * scale, abs=1.5)
        least = 0.9 if outcome == SUCCEEDED else 0.5  # stripes and hatching take the rest
        assert share_of(shot, box, chart.FILL[outcome]) >= least, outcome
        # The other outcomes' colours are not there.
        for other in chart.FILL:
            if other != outcome:
                assert share_of(shot, box, chart.FILL[other]) < 0.05, (outcome, other)
    # The hour after the successes is empty: the plot's paper shows where a bar would be.
    succeeded = figure.locator(f"g.hour[data-hour='{hours[SUCCEEDED]}']")
    empty = succeeded.locator("xpath=following-sibling::*[1]")
    assert empty.locator("rect").count() == 0
    bar = on_page(page, succeeded.locator("rect").bounding_box())
    x = bar["x"] + bar["width"] / 2 + (chart.WIDTH - chart.LEFT - chart.RIGHT) / 24 * scale
    y = svg_box["y"] + (chart.TOP + chart.PLOT_HEIGHT * 0.8) * scale
    assert near(shot.getpixel((int(x), int(y))), "#ffffff", 8)


def test_the_dashboard_draws_the_hours_and_fits_a_phone(site, restart, serve_app,
                                                        browser):  # noqa: F811 (the fixture)
    busy, down, hours = seed(site)
    running = restart(site)
    base = serve_app(running.app)
    context = browser.new_context(viewport=DESKTOP, device_scale_factor=1)
    page = context.new_page()
    sign_in(page, base, "manager")
    page.goto(base + "/console/webhooks/dashboard/")
    assert page.locator("h1").inner_text() == "Webhook dashboard"

    # On a desktop the chart and its figures stand side by side.
    shot = screenshot(page, "dashboard")
    check_bars(page, busy, hours, shot)
    panel = page.locator(f"#health-{busy}")
    assert "succeeded 40" in " ".join(panel.locator(".legend").inner_text().split())
    chart_box = panel.locator("svg.chart").bounding_box()
    figures_box = panel.locator("dl.figures").bounding_box()
    assert figures_box["x"] >= chart_box["x"] + chart_box["width"]
    stuck = page.locator(f"#health-{down}")
    assert "circuit open" in stuck.locator("h2").inner_text()
    assert stuck.locator(".backlog").inner_text().startswith(
        "3 pending; the oldest due has waited 12 min")
    assert page.locator("#all-webhooks .attempt-time").inner_text().startswith("p50 ")

    # On a phone: nothing wider than the screen, the figures under the chart, bars still drawn.
    page.set_viewport_size(PHONE)
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for element in page.locator("main section, svg.chart, dl.figures, .legend").all():
        box = element.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    chart_box = panel.locator("svg.chart").bounding_box()
    assert panel.locator("dl.figures").bounding_box()["y"] >= chart_box["y"] + chart_box["height"]
    assert chart_box["width"] >= PHONE["width"] * 0.75  # the chart takes the phone's width
    check_bars(page, busy, hours, screenshot(page, "dashboard-phone"))
    sign_out(page)

    # The site owner sees every webhook: the one with an open circuit first.
    page.set_viewport_size(DESKTOP)
    sign_in(page, base, "super")
    page.goto(base + "/console/webhooks/dashboard/")
    assert "Every webhook on the site" in page.locator("#all-webhooks h2").inner_text()
    ids = [int(i.removeprefix("health-")) for i in
           page.locator("section.webhook-health").evaluate_all("all => all.map(s => s.id)")]
    assert ids[:2] == [down, busy]
    check_bars(page, busy, hours, screenshot(page, "dashboard-owner"))
    context.close()
