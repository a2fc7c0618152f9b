"""Missed bookings: the web console page that shows a manager the bookings no channel
manager's key acknowledged in time (the alarms of their properties), newest first."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from sqlalchemy import select

from jomreskit import get_kit
from jomreskit.console import ConsolePage, current_user
from jomreskit.domain import ManagerProperty, Property

from . import settings
from .models import BookingRevision
from .revisions import acknowledged_by_any

bp = Blueprint("api_feature_handover_console", __name__, template_folder="templates",
               url_prefix="/handover")
SHOWN = 200  # the newest alarms shown


def pages() -> list[ConsolePage]:
    return [ConsolePage(
        "Missed bookings", "api_feature_handover_console.missed", bp, roles=("manager", "super"),
        description="Bookings no channel manager acknowledged in time.")]


@bp.get("/", endpoint="missed")
def missed() -> str:
    kit = get_kit()
    user = current_user()
    assert user is not None  # the console lets no one in unsigned
    session = kit.session()
    query = (select(BookingRevision, Property.name)
             .join(Property, Property.property_uid == BookingRevision.property_uid)
             .where(BookingRevision.alarmed_at.is_not(None)))
    if user.role != "super":
        query = query.where(BookingRevision.property_uid.in_(
            select(ManagerProperty.property_uid)
            .where(ManagerProperty.manager_id == user.manager_id)))
    rows = session.execute(query.order_by(BookingRevision.alarmed_at.desc(),
                                          BookingRevision.revision.desc()).limit(SHOWN)).all()
    taken = acknowledged_by_any(session, [revision.revision for revision, _ in rows])
    alarms: list[dict[str, Any]] = [
        {"revision": revision, "property_name": name, "taken": revision.revision in taken}
        for revision, name in rows]
    return render_template("api_feature_handover/missed.html", alarms=alarms,
                           delay=settings.delay(kit).total_seconds() / 60)
