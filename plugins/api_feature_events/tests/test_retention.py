"""Retention: events are kept as long as webhook deliveries (JOMRESKIT_WEBHOOK_RETENTION_DAYS);
a cursor from before what was pruned answers 410 with the oldest cursor still available."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select, update

from jomreskit.db import utcnow
from jomreskit.domain import EventRecord


def age_events(site, days: float, up_to_id: int, from_id: int = 0) -> None:
    """Pretend events ``from_id`` to ``up_to_id`` were fired ``days`` ago."""
    with site.app.app_context(), site.kit.transaction() as session:
        session.execute(update(EventRecord).where(EventRecord.id.between(from_id, up_to_id))
                        .values(created_at=utcnow() - timedelta(days=days)))


def count_events(site) -> int:
    with site.app.app_context():
        return site.kit.session().scalar(select(func.count()).select_from(EventRecord))


def test_a_cursor_older_than_the_retention_answers_410_with_the_oldest_cursor(make_feed):
    feed = make_feed(JOMRESKIT_WEBHOOK_RETENTION_DAYS=10)
    events, _ = feed.read_all()
    old, kept = events[:5], events[5:]
    age_events(feed.site, 11, old[-1]["id"])
    age_events(feed.site, 9, kept[0]["id"], kept[0]["id"])  # within the retention: stays

    result = feed.site.cli("event-feed", "prune")
    assert result.exit_code == 0, result.output
    assert f"{old[-1]['id']} events older than 10 days deleted" in result.output

    stale = feed.get(after=old[1]["cursor"])
    assert feed.error(stale) == (410, "cursor_expired")
    oldest = stale.headers["X-Oldest-Cursor"]
    assert oldest in stale.json()["error"]["message"]
    resumed, _ = feed.read_all(after=oldest)
    assert [e["id"] for e in resumed] == [e["id"] for e in kept]
    assert feed.error(feed.acknowledge(old[0]["cursor"])) == (410, "cursor_expired")
    assert feed.acknowledge(oldest).status_code == 200


def test_a_reader_past_what_was_pruned_reads_on_undisturbed(feed):
    events, cursor = feed.read_all()
    age_events(feed.site, 31, events[-1]["id"])
    assert feed.site.cli("event-feed", "prune").exit_code == 0
    newest = feed.fire_note(41)
    assert [e["id"] for e in feed.read_all(after=cursor)[0]] == [newest]


def test_the_newest_event_stays_so_ids_are_never_reused(feed):
    events, _ = feed.read_all("super")
    age_events(feed.site, 31, events[-1]["id"])
    assert feed.site.cli("event-feed", "prune", "--days", "0").exit_code == 0
    assert count_events(feed.site) == 1
    assert feed.fire_note(41) > events[-1]["id"]


def test_the_pruner_beside_serve_deletes_old_events(feed):
    site = feed.site
    events, _ = feed.read_all("super")
    age_events(site, 31, events[-2]["id"])
    services = site.kit.hooks.background_services(kit=site.kit)
    pruners = [s for s in services if type(s).__name__ == "Pruner"]
    assert pruners
    pruners[0].start()
    try:
        deadline = time.monotonic() + 10
        while count_events(site) != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        pruners[0].stop()
    assert count_events(site) == 1


def test_a_bad_retention_for_the_command_is_one_clear_line(feed):
    result = feed.site.cli("event-feed", "prune", "--days", "-1")
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_a_quiet_key_that_keeps_polling_gets_no_410_after_other_properties_events_are_pruned(
        make_feed):
    feed = make_feed(JOMRESKIT_WEBHOOK_RETENTION_DAYS=10)
    # manager2 runs nothing: quiet for longer than the retention, polling all along
    cursor = feed.page("manager2")["meta"]["next"]
    events, _ = feed.read_all("super")
    cursor = feed.page("manager2", after=cursor)["meta"]["next"]
    age_events(feed.site, 11, events[-2]["id"])
    assert feed.site.cli("event-feed", "prune").exit_code == 0

    page = feed.page("manager2", after=cursor)

    assert page["data"] == [] and page["meta"]["more"] is False


def test_a_position_before_what_was_pruned_answers_410_even_one_an_empty_feed_handed_out(
        feed):
    # manager2 runs nothing; it stops polling before the events are fired and pruned
    before = feed.page("manager2")["meta"]["next"]
    fired = [feed.fire_note(41) for _ in range(3)]
    events, _ = feed.read_all("super")
    assert [e["id"] for e in events][-3:] == fired
    age_events(feed.site, 31, fired[-2])
    assert feed.site.cli("event-feed", "prune").exit_code == 0

    stale = feed.get("manager2", after=before)

    assert feed.error(stale) == (410, "cursor_expired")
    assert feed.error(feed.acknowledge(before, "manager2")) == (410, "cursor_expired")
    # the start of the feed, as handed out before cursors were sealed
    assert feed.error(feed.get("manager", after="ev1_MC4w")) == (410, "cursor_expired")
    # without a cursor, a reader starts at the oldest event kept, and reads on from there
    fresh = feed.page("manager2")
    assert fresh["data"] == []
    assert feed.get("manager2", after=fresh["meta"]["next"]).status_code == 200
