"""A plugin file that adds a managers-only page to the console; the console's tests drop it
into a site's plugins folder."""

from flask import Blueprint, flash, redirect, render_template_string, request, url_for

from jomreskit import hookimpl
from jomreskit.console import ConsolePage, current_user

bp = Blueprint("channel_rates_console", __name__, url_prefix="/channel-rates")

PAGE = """{% extends "jomreskit_console/layout.html" %}
{% from "jomreskit_console/macros.html" import post_button %}
{% block title %}Channel rates{% endblock %}
{% block content %}<h1>Channel rates of {{ username }}</h1>
{{ post_button(url_for('channel_rates_console.push'), 'Push rates') }}{% endblock %}"""


@bp.get("/")
def rates():
    return render_template_string(PAGE, username=current_user().username)


@bp.post("/push")
def push():
    flash(f"Rates pushed by {current_user().username} ({request.form.get('note', '')}).", "success")
    return redirect(url_for("channel_rates_console.rates"))


@hookimpl
def register_console_pages():
    return [ConsolePage("Channel rates", "channel_rates_console.rates", bp, roles=("manager",),
                        description="Push rates to channel managers.")]
