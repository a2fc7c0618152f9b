"""Every JSON the site writes gives timestamps in one ISO 8601 form, and `deliveries show` says
each thing once."""

from __future__ import annotations

import json
import re
from datetime import datetime

from jomreskit_api_core.testing import create_key

from jomreskit.core.db import timestamp_text

ONE_FORM = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
STAMP_KEYS = ("_at", "timestamp", "failing_since")


def stamps(value, found=None):
    """Every timestamp-named value anywhere in ``value``."""
    found = [] if found is None else found
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith(STAMP_KEYS) and isinstance(item, str):
                found.append((key, item))
            stamps(item, found)
    elif isinstance(value, list):
        for item in value:
            stamps(item, found)
    return found


def test_the_one_form_keeps_microseconds_and_the_offset():
    on_the_second = datetime.fromisoformat("2026-11-30T09:00:00+01:00")

    assert timestamp_text(on_the_second) == "2026-11-30T08:00:00.000000+00:00"


def test_every_json_listing_gives_timestamps_in_one_iso_8601_form(site):
    create_key(site)
    made = site.cli("webhooks", "create", "--manager", "manager", "--url",
                    "http://127.0.0.1:9/", "--authmethod", "basic", "--setting", "username=u",
                    "--setting", "password=p", "--json")
    assert made.exit_code == 0, made.output
    fired = site.cli("events", "fire", "booking_modified", "property_uid=1", "contract_uid=41",
                     "--json")
    outputs = [json.loads(fired.output)]
    for args in (("webhooks", "list"), ("deliveries", "list"), ("deliveries", "show", "1"),
                 ("keys", "list"), ("users", "list"), ("plugins", "list")):
        result = site.cli(*args, "--json")
        assert result.exit_code == 0, (args, result.output)
        outputs.append(json.loads(result.output))
    payload = json.loads(outputs[3]["payload"])  # the notification's own body

    found = stamps(outputs) + [("payload timestamp", payload["timestamp"])]

    assert {key for key, _ in found} >= {"timestamp", "created_at", "updated_at",
                                         "next_attempt_at", "payload timestamp"}
    assert [(k, v) for k, v in found if not ONE_FORM.match(v)] == []


def test_deliveries_show_says_attempts_once(site):
    site.cli("webhooks", "create", "--manager", "manager", "--url", "http://127.0.0.1:9/",
             "--authmethod", "basic", "--setting", "username=u", "--setting", "password=p")
    site.cli("events", "fire", "booking_modified", "property_uid=1", "contract_uid=41")

    shown = site.cli("deliveries", "show", "1").output.splitlines()

    assert len([line for line in shown if line.startswith("attempts")]) == 1
    assert "attempt log:" in shown
