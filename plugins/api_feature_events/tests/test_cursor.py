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
