"""PUT /events/cursor: a key's acknowledged position, and GET /events?after=acknowledged."""

from __future__ import annotations

import requests
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
    assert feed.read_all(after="acknowledged")[0] == feed.read_all()[0] != []


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


# -- what a cursor tells: nothing a key could read ---------------------------------------


def _tampered(cursor: str) -> str:
    """The cursor with one character of its sealed part changed."""
    at = len(cursor) // 2
    return cursor[:at] + ("A" if cursor[at] != "A" else "B") + cursor[at + 1:]


def test_a_caught_up_keys_next_changes_on_every_read_and_reads_nothing_new(feed):
    # manager2 runs no property; manager runs 1 and 2
    _, quiet = feed.read_all("manager2")
    _, caught_up = feed.read_all("manager")
    nexts = {quiet, caught_up}

    for _ in range(3):  # nothing happens: every read hands out a cursor never seen before
        for manager in ("manager2", "manager"):
            page = feed.page(manager, after=quiet if manager == "manager2" else caught_up)
            assert page["data"] == [] and page["meta"]["more"] is False
            assert page["meta"]["next"] not in nexts
            nexts.add(page["meta"]["next"])
            assert feed.page(manager, after=page["meta"]["next"])["data"] == []

    feed.fire_note(41)  # property 1's: manager's, not manager2's
    page = feed.page("manager2", after=quiet)
    assert page["data"] == [] and page["meta"]["more"] is False
    assert len(feed.read_all("manager", after=caught_up)[0]) == 1


def test_a_cursor_holds_nothing_a_key_could_read(feed):
    import base64

    events, cursor = feed.read_all("manager")
    for sealed in [cursor] + [e["cursor"] for e in events]:
        assert sealed.startswith("ev2_")
        text = sealed.removeprefix("ev2_")
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        assert not any(str(e["id"]).encode() in raw for e in events[-3:] if e["id"] > 99)
    # an event's cursor is the same on every read, as its id is
    assert [e["cursor"] for e in feed.read_all("manager")[0]] == [e["cursor"] for e in events]


def test_a_cursor_handed_out_to_another_key_is_refused(feed):
    events, cursor = feed.read_all("manager")
    other = bearer_token(feed.site, "manager", ["events_get"])  # the same manager's second key
    for given in (cursor, events[0]["cursor"]):
        refused = requests.get(f"{feed.base}/events", params={"after": given}, timeout=10,
                               headers={"Authorization": f"Bearer {other}"})
        assert feed.error(refused) == (422, "invalid_after")
        assert feed.error(feed.acknowledge(given, "super")) == (422, "invalid_cursor")
    assert feed.get(after=events[0]["cursor"]).status_code == 200  # its own key reads it


def test_a_tampered_cursor_is_refused(feed):
    events, cursor = feed.read_all("manager")
    for given in (cursor, events[0]["cursor"]):
        assert feed.error(feed.get(after=_tampered(given))) == (422, "invalid_after")
        assert feed.error(feed.acknowledge(_tampered(given))) == (422, "invalid_cursor")
        assert feed.error(feed.get(after=given[:-2])) == (422, "invalid_after")
        assert feed.error(feed.get(after=given + "!")) == (422, "invalid_after")


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
