"""The Webhook dashboard page of the web console: how deliveries are going, at a glance.

A manager sees their own webhooks, each with its chart; the site owner (a super manager) sees
every webhook on the site together, then the webhooks that most need looking at. The page only
shows what ``dashboard`` reads; it changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, render_template

from jomreskit import get_kit
from jomreskit.console import ConsolePage, current_user

from . import chart, dashboard
from .console import duration, when
from .models import CLOSED

# Its own blueprint: the Webhooks pages' views are for managers only, this one is for both.
bp = Blueprint("webhooks_dashboard", __name__, template_folder="templates",
               url_prefix="/webhooks/dashboard")

# The site owner's page lists this many webhooks, those needing attention first.
SHOWN_TO_OWNER = 20


def pages() -> list[ConsolePage]:
    return [ConsolePage("Webhook dashboard", "webhooks_dashboard.dashboard", bp,
                        roles=("manager", "super"),
                        description="How deliveries are going: the last day hour by hour, "
                                    "the backlog, attempt times, circuits.")]


@bp.get("/", endpoint="dashboard")
def dashboard_page() -> tuple[str, int]:
    kit = get_kit()
    user = current_user()
    assert user is not None  # the console lets no one in unsigned
    owner = user.is_super
    overview = dashboard.read(kit, None if owner else user.manager_id)
    shown = overview.webhooks
    if owner:
        shown = dashboard.needing_attention(shown)[:SHOWN_TO_OWNER]
    return render_template(
        "webhooks_core/dashboard.html", overview=overview, shown=shown, owner=owner,
        hidden=len(overview.webhooks) - len(shown), chart=chart.hourly, fills=chart.FILL,
        stripes=chart.STRIPE, outcomes=dashboard.OUTCOMES, when=when, waited=_waited,
        closed=CLOSED), 200


def _waited(since: datetime | None, now: datetime) -> str:
    """How long since ``since``, as people read it (5 s, 5 min, 2 h)."""
    return duration(max(0.0, (now - since).total_seconds())) if since else "—"
