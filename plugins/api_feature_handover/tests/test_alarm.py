"""A revision no key with the scope acknowledged within the delay fires booking_unacknowledged,
once, whoever checks and however often; webhooks, the feed and the callback carry it."""

from __future__ import annotations

import threading

from jomreskit_api_feature_handover import SCOPE, alarm

from jomreskit.domain import services

NOW = {"JOMRESKIT_HANDOVER_ALARM_MINUTES": "0"}  # every revision is due at once


def check(handover) -> str:
    result = handover.site.cli("handover", "check")
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_a_revision_not_acknowledged_in_time_fires_once(make_handover):
    handover = make_handover(**NOW)
    key = handover.key()
    taken, missed = handover.book(days=200), handover.book(days=210)
    [(_, taken_revision, _), (_, missed_revision, _)] = key.pending()
    key.acknowledge(1, taken, taken_revision)

    first, second = check(handover), check(handover)

    assert first == "1 unacknowledged booking revision alarmed"
    assert second == "0 unacknowledged booking revisions alarmed"
    assert handover.events(alarm.EVENT) == [
        {"property_uid": 1, "contract_uid": missed, "revision": missed_revision}]


def test_no_alarm_before_the_delay(handover):
    handover.key()
    handover.book()

    assert check(handover) == "0 unacknowledged booking revisions alarmed"  # 30 minutes


def test_no_alarm_where_no_key_takes_the_bookings(make_handover):
    handover = make_handover(**NOW)
    handover.key("manager", scopes=("webhooks_get",))  # a key, but not a channel manager's
    handover.key("manager2")  # a channel manager's key, of another manager
    handover.book()

    assert check(handover) == "0 unacknowledged booking revisions alarmed"


def test_an_acknowledgement_by_any_key_with_the_scope_is_enough(make_handover):
    handover = make_handover(**NOW)
    channel, _pms = handover.key(), handover.key()
    contract = handover.book()
    [(_, revision, _)] = channel.pending()
    channel.acknowledge(1, contract, revision)

    assert check(handover) == "0 unacknowledged booking revisions alarmed"


def test_processes_checking_at_the_same_moment_fire_each_alarm_once(make_handover):
    handover = make_handover(**NOW)
    handover.key()
    contracts = [handover.book(days=200 + 3 * n) for n in range(5)]
    site, start = handover.site, threading.Barrier(4)
    counts: list[int] = []

    def checker() -> None:
        with site.app.app_context():
            start.wait(timeout=30)
            try:
                counts.append(alarm.check(site.kit, SCOPE))
            finally:
                site.kit.session.remove()

    threads = [threading.Thread(target=checker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(counts) == 5
    assert sorted(ids["contract_uid"] for ids in handover.events(alarm.EVENT)) == contracts


def test_the_alarm_reaches_the_feed_and_its_callback(make_handover):
    handover = make_handover(**NOW)
    key = handover.key()
    contract = handover.book()
    handover.change(lambda kit: services.modify_booking(kit, contract, adults=2))
    [_, (_, revision, _)] = key.pending()
    key.acknowledge(1, contract, key.pending()[0][1])
    check(handover)
    reader = handover.key(scopes=("events_get", "webhooks_get"))

    # Waits while the event is held back (on PostgreSQL a transaction open anywhere on the
    # server holds the feed's horizon back, another test's included).
    feed = reader.get("/events", types=alarm.EVENT, wait=30).json()["data"]

    assert [(e["type"], e["ids"]) for e in feed] == [
        (alarm.EVENT, {"property_uid": 1, "contract_uid": contract, "revision": revision})]
    callback = reader.get(feed[0]["callback_url"].split("/api", 1)[1])
    assert callback.status_code == 200, callback.text
    record = callback.json()["data"]
    assert (record["contract_uid"], record["revision"], record["type"]) == (
        contract, revision, "booking_modified")
    assert record["alarmed_at"] is not None and record["acknowledged"] is False
    stranger = handover.key("manager2", scopes=("webhooks_get",))
    assert stranger.get(f"/webhooks/1/{alarm.EVENT}/{revision}").status_code == 403


def test_the_services_serve_runs_check_on_their_own(make_handover):
    """`jomreskit serve` starts every plugin's background_services (the webhook worker, the
    feed's pruner, this check): started the same way, the check finds the missed booking."""
    handover = make_handover(JOMRESKIT_HANDOVER_CHECK_SECONDS="0.1", **NOW)
    handover.key()
    contract = handover.book()
    kit = handover.site.kit
    with handover.site.app.app_context():
        services = kit.hooks.background_services(kit=kit)
    assert any(isinstance(service, alarm.Watchman) for service in services)
    for service in services:
        service.start()
    try:
        for _ in range(400):
            if handover.events(alarm.EVENT):
                break
            threading.Event().wait(0.05)
    finally:
        for service in services:
            service.stop()

    assert [ids["contract_uid"] for ids in handover.events(alarm.EVENT)] == [contract]
