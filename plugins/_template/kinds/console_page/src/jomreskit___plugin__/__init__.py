"""__description__

A console page: managers see "__title__" in the console's Account menu, a page listing the
properties they run (see register_console_pages in jomreskit's docs/plugin_hooks.md). The
console mounts the blueprint under its prefix and lets only signed-in users of the page's roles
reach it.
"""

from flask import Blueprint, render_template
from sqlalchemy import select

from jomreskit import get_kit, hookimpl
from jomreskit.console import ConsolePage, current_user
from jomreskit.domain import ManagerProperty, Property

bp = Blueprint("__plugin___console", __name__, url_prefix="/__dist__",
               template_folder="templates")


@bp.get("/")
def page() -> str:
    user = current_user()
    properties = get_kit().session().scalars(
        select(Property)
        .join(ManagerProperty, ManagerProperty.property_uid == Property.property_uid)
        .where(ManagerProperty.manager_id == user.manager_id)
        .order_by(Property.property_uid))
    return render_template("__plugin__/page.html", user=user, properties=list(properties))


@hookimpl
def register_console_pages() -> list[ConsolePage]:
    return [ConsolePage("__title__", "__plugin___console.page", bp, roles=("manager",),
                        description="__description__")]
