"""PUT /events/cursor: a key's acknowledged position, and GET /events?after=acknowledged."""

from __future__ import annotations

from jomreskit_api_core.testing import bearer_token


def test_a_reader_resumes_from_its_acknowledged_cursor(feed):
    events, cursor = feed.read_all()
    middle = events[len(events) // 2]
    acknowledged = feed.acknowledge(middle["cursor"])
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["data"]["cursor"] == middle["cursor"]
    newest = feed.fire_note(41)

    resumed, _ = feed.read_all(after="acknowledged")

    assert [e["id"] for e in resumed] == [e["id"] for e in events[len(events) // 2 + 1:]] + [
        newest]


def test_acknowledging_again_moves_the_position(feed):
    _, cursor = feed.read_all()
    feed.acknowledge(feed.page(limit=1)["meta"]["next"])
    assert feed.acknowledge(cursor).status_code == 200
    assert feed.page(after="acknowledged")["data"] == []


def test_without_an_acknowledged_cursor_the_feed_starts_at_the_oldest_event(feed):
    assert feed.page(after="acknowledged") == feed.page()


def test_each_key_has_its_own_position(feed):
    _, cursor = feed.read_all()
    feed.acknowledge(cursor)
    feed.tokens["manager"] = bearer_token(feed.site, "manager", ["events_get"])  # a second key
    assert feed.page(after="acknowledged")["data"] != []


def test_a_bad_cursor_is_refused_with_a_json_error(feed):
    assert feed.error(feed.acknowledge("ev1_nonsense")) == (422, "invalid_cursor")
    assert feed.error(feed.acknowledge(12)) == (422, "invalid_cursor")
    bare = feed.acknowledge(None)
    assert feed.error(bare) == (422, "invalid_cursor")


# -- what a cursor tells: only about events the key may see ---------------------------------


def _named_event(cursor: str) -> str:
    """What a cursor holds, decoded as anyone can (cursors are opaque, not secret)."""
    import base64

    text = cursor.removeprefix("ev1_")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def test_a_caught_up_key_keeps_its_cursor_while_other_managers_properties_change(feed):
    # manager2 runs no property; manager runs 1 and 2
    _, before = feed.read_all("manager2")
    manager_events, manager_before = feed.read_all("manager")

    for _ in range(3):
        feed.fire_note(41)  # property 1's: manager's, not manager2's

    page = feed.page("manager2", after=before)
    assert page["data"] == [] and page["meta"]["more"] is False
    assert page["meta"]["next"] == before
    assert feed.page("manager2")["meta"]["next"] == before  # from the oldest kept, the same
    assert len(feed.read_all("manager", after=manager_before)[0]) == 3


def test_a_cursor_names_its_event_and_not_the_databases_transaction_counter(feed):
    events, cursor = feed.read_all("manager")

    assert [_named_event(e["cursor"]) for e in events] == [str(e["id"]) for e in events]
    assert _named_event(cursor) == str(events[-1]["id"])


def test_a_cursor_handed_out_before_as_xid_and_event_still_reads_by_its_event(feed):
    events, _ = feed.read_all("manager")
    import base64

    old_style = "ev1_" + base64.urlsafe_b64encode(
        f"987654.{events[1]['id']}".encode()).decode().rstrip("=")

    assert [e["id"] for e in feed.read_all("manager", after=old_style)[0]] == [
        e["id"] for e in events[2:]]


def test_a_cursor_of_no_event_ever_handed_out_is_refused(feed):
    import base64

    beyond = "ev1_" + base64.urlsafe_b64encode(b"99999999").decode().rstrip("=")

    assert feed.error(feed.get(after=beyond)) == (422, "invalid_after")
    assert feed.error(feed.acknowledge(beyond)) == (422, "invalid_cursor")
