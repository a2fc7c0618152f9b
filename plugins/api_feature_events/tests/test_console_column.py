"""App Key Management shows, for each key that reads the event feed, the event it acknowledged
and how many events of its manager's properties came after; without this plugin, no such column.
"""

from __future__ import annotations

import html
import re

import pytest
from jomreskit_api_core.testing import create_key, issue_token

from jomreskit.console.testing import sign_in
from jomreskit.domain import services


def feed_cell(page, client_id: str) -> str:
    """The text of the "Event feed" cell in ``client_id``'s row of the keys page."""
    row = re.search(rf'<tr id="key-{client_id}">(.*?)</tr>', page.text, re.S)
    assert row, f"no row for {client_id}"
    cell = re.search(r'<td data-label="Event feed">(.*?)</td>', row[1], re.S)
    assert cell, "the row has no Event feed cell"
    return html.unescape(cell[1].strip())


def keys_page(site, username: str = "manager"):
    client = site.client()
    sign_in(client, username)
    page = client.get("/console/keys/")
    assert page.status_code == 200
    return page


def reading_key(feed, manager: str = "manager") -> tuple[str, str]:
    """A new key with scope events_get that the feed reads with from now on: its client id and
    token."""
    client_id, secret = create_key(feed.site, manager, ["events_get"])
    feed.tokens[manager] = issue_token(feed.site, client_id, secret)
    return client_id, feed.tokens[manager]


def test_each_key_shows_its_acknowledged_event_and_how_far_behind_it_is(feed):
    reader, token = reading_key(feed)
    events, _ = feed.read_all()
    middle = len(events) // 2
    assert feed.acknowledge(events[middle]["cursor"]).status_code == 200
    newest = feed.fire_note(41)
    behind = len(events) - middle - 1 + 1  # the rest of what was read, and the new note
    idle, _ = reading_key(feed)  # reads nothing, acknowledges nothing
    callbacks_only, _ = create_key(feed.site, "manager", ["webhooks_get"])

    page = keys_page(feed.site)

    assert '<th scope="col">Event feed</th>' in page.text
    assert feed_cell(page, reader) == (f"acknowledged event {events[middle]['id']:,} – "
                                       f"{behind:,} events behind")
    assert feed_cell(page, idle) == "never acknowledged"
    assert feed_cell(page, callbacks_only) == "—"  # it cannot read the feed

    feed.tokens["manager"] = token  # the reader catches up
    caught_up, next_cursor = feed.read_all(after="acknowledged")
    assert feed.acknowledge(caught_up[-1]["cursor"]).status_code == 200
    assert feed_cell(keys_page(feed.site), reader) == f"acknowledged event {newest:,} – up to date"
    # its next names the feed's horizon, no event of the manager's (on PostgreSQL no event)
    assert feed.acknowledge(next_cursor).status_code == 200
    assert feed_cell(keys_page(feed.site), reader) in (
        "acknowledged all it had read – up to date",
        f"acknowledged event {newest:,} – up to date")  # SQLite: the horizon is its event


def test_only_the_events_of_the_key_manager_properties_count(feed):
    # manager2 runs no property: nothing of the demo's events is theirs to read.
    outsider, _ = reading_key(feed, "manager2")
    _, cursor = feed.read_all("manager2")
    assert feed.acknowledge(cursor, "manager2").status_code == 200
    feed.fire_note(41)

    assert feed_cell(keys_page(feed.site, "manager2"), outsider).endswith("– up to date")


def test_a_notice_to_the_key_manager_counts_though_it_has_no_property(feed):
    webhooks = pytest.importorskip("jomreskit_webhooks_core.services")
    outsider, _ = reading_key(feed, "manager2")
    _, cursor = feed.read_all("manager2")
    assert feed.acknowledge(cursor, "manager2").status_code == 200
    site = feed.site
    with site.app.app_context(), site.kit.transaction():
        for username in ("manager2", "manager"):  # the other manager's notice does not count
            owner = services.user_by_name(site.kit, username).manager_id
            webhook, _secret = webhooks.create_webhook(site.kit, owner, "http://127.0.0.1:9/h")
            site.kit.fire("webhook_circuit_opened", manager_id=owner, webhook_id=webhook.id)

    assert feed_cell(keys_page(feed.site, "manager2"), outsider).endswith("– 1 event behind")


def test_a_super_manager_key_counts_every_property_events(feed):
    reader, _ = reading_key(feed, "super")
    events, _ = feed.read_all("super")
    assert feed.acknowledge(events[0]["cursor"], "super").status_code == 200
    assert {e["ids"].get("property_uid") for e in events[1:]} >= {1, 2}  # and managers

    shown = feed_cell(keys_page(feed.site, "super"), reader)

    assert shown == (f"acknowledged event {events[0]['id']:,} – "
                     f"{len(events) - 1:,} events behind")


def test_without_the_plugin_the_page_has_no_event_feed_column(make_api_site):
    site = make_api_site(JOMRESKIT_LOAD_PLUGINS="api_core,api_feature_webhooks")
    client_id, _ = create_key(site, "manager", ["webhooks_get"])

    page = keys_page(site)

    assert f'<tr id="key-{client_id}">' in page.text
    assert "Event feed" not in page.text


def test_far_behind_the_count_stops_looking_and_says_at_least(feed, monkeypatch):
    from jomreskit_api_feature_events import key_column

    reader, _ = reading_key(feed)
    events, _ = feed.read_all()
    assert feed.acknowledge(events[0]["cursor"]).status_code == 200
    assert len(events) - 1 > 5
    monkeypatch.setattr(key_column, "SCAN", 5)  # as if a key were a million events behind

    shown = feed_cell(keys_page(feed.site), reader)

    assert shown == f"acknowledged event {events[0]['id']:,} – at least 5 events behind"
    # Looking as far as there are events (the manager's and others'): the exact count.
    recorded_after = [i for i in feed.event_ids() if i > events[0]["id"]]
    monkeypatch.setattr(key_column, "SCAN", len(recorded_after))
    assert feed_cell(keys_page(feed.site), reader) == (
        f"acknowledged event {events[0]['id']:,} – {len(events) - 1} events behind")
