"""A channel manager's key takes bookings one revision at a time: lists what it has not
acknowledged, acknowledges it in any order, and never sees an acknowledged revision again."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from jomreskit_api_core import ApiKey
from jomreskit_api_feature_handover import revisions
from jomreskit_api_feature_handover.models import Acknowledgement, BookingRevision, Watermark
from sqlalchemy import func, select

from jomreskit.db import utcnow
from jomreskit.domain import EventRecord, services

from .conftest import SCOPE


def test_new_modified_and_cancelled_bookings_are_listed_oldest_first(handover):
    key = handover.key()
    contract = handover.book()
    handover.change(lambda kit: services.modify_booking(kit, contract, adults=2))
    handover.change(lambda kit: services.cancel_booking(kit, contract))

    pending = key.pending()

    assert [(c, t) for c, _, t in pending] == [
        (contract, "booking_added"), (contract, "booking_modified"),
        (contract, "booking_cancelled")]
    revisions = [r for _, r, _ in pending]
    assert revisions == sorted(revisions) and len(set(revisions)) == 3


def test_an_acknowledged_revision_is_never_listed_again_even_out_of_order(handover):
    key = handover.key()
    contract = handover.book()
    handover.change(lambda kit: services.modify_booking(kit, contract, adults=2))
    (_, added, _), (_, modified, _) = key.pending()

    newer = key.acknowledge(1, contract, modified)  # the newer one first
    older = key.acknowledge(1, contract, added)

    assert (newer.status_code, older.status_code) == (200, 200)
    assert newer.json()["data"]["revision"] == modified
    assert newer.json()["data"]["type"] == "booking_modified"
    assert key.pending() == []
    handover.change(lambda kit: services.modify_booking(kit, contract, adults=1))
    [(_, again, kind)] = key.pending()
    assert again > modified and kind == "booking_modified"  # a new change, a new revision


def watermark_of(handover) -> int | None:
    with handover.site.app.app_context():
        try:
            return handover.site.kit.session().scalar(select(Watermark.below))
        finally:
            handover.site.kit.session.remove()


def test_acknowledging_moves_the_key_past_its_settled_history(handover):
    key = handover.key()
    first, second = handover.book(), handover.book(days=210)
    [(_, older, _), (_, newer, _)] = key.pending()

    def age(kit):  # all a day ago: the key, then the bookings
        for row in kit.session().scalars(select(BookingRevision)):
            row.recorded_at -= timedelta(days=1)
        for row in kit.session().scalars(select(ApiKey)):
            row.created_at -= timedelta(days=1)

    handover.change(age)
    key.acknowledge(1, second, newer)  # out of order: the older one is still to take
    assert watermark_of(handover) == older
    assert key.pending() == [(first, older, "booking_added")]
    key.acknowledge(1, first, older)
    assert watermark_of(handover) == newer + 1  # the list reads from past both
    assert key.pending() == []


def test_a_revision_committed_late_below_acknowledged_ones_is_still_listed(handover):
    key = handover.key()
    first = handover.book()
    taken = handover.change(lambda kit: kit.fire("property_updated", property_uid=1).id)
    second = handover.book(days=210)
    [(_, older, _), (_, newer, _)] = key.pending()
    key.acknowledge(1, second, newer)
    key.acknowledge(1, first, older)

    # A change whose transaction took its revision (an event id) between the two, and
    # committed only now that both are acknowledged.
    handover.change(lambda kit: kit.session().add(BookingRevision(
        revision=taken, property_uid=1, contract_uid=first, type="booking_modified",
        recorded_at=utcnow())))

    assert older < taken < newer
    assert key.pending() == [(first, taken, "booking_modified")]


def test_acknowledging_twice_answers_the_same_both_times(handover):
    key = handover.key()
    contract = handover.book()
    [(_, revision, _)] = key.pending()

    first = key.acknowledge(1, contract, revision)
    second = key.acknowledge(1, contract, revision)

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["data"] == second.json()["data"]
    assert key.pending() == []


def test_each_key_acknowledges_for_itself(handover):
    channel, pms = handover.key(), handover.key()
    contract = handover.book()
    [(_, revision, _)] = channel.pending()

    channel.acknowledge(1, contract, revision)

    assert channel.pending() == []
    assert pms.pending() == [(contract, revision, "booking_added")]


def test_a_key_sees_only_its_managers_properties(handover):
    manager, other, super_ = handover.key(), handover.key("manager2"), handover.key("super")
    at_1, at_2 = handover.book(1), handover.book(2)

    assert [c for c, _, _ in manager.pending()] == [at_1, at_2]
    assert [c for c, _, _ in manager.pending(property_uid=2)] == [at_2]
    assert [c for c, _, _ in super_.pending()] == [at_1, at_2]
    assert other.pending() == []
    refused = other.get("/handover/bookings", property_uid=1)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden_property")


def test_bookings_from_before_the_key_are_not_its_to_take(handover):
    handover.book()
    key = handover.key()

    assert key.pending() == []


def test_another_managers_booking_is_forbidden_and_an_unknown_revision_not_found(handover):
    manager, other = handover.key(), handover.key("manager2")
    contract = handover.book()
    [(_, revision, _)] = manager.pending()

    forbidden = other.acknowledge(1, contract, revision)
    unknown = manager.acknowledge(1, contract, revision + 1000)
    wrong_booking = manager.acknowledge(1, 41, revision)
    wrong_property = manager.acknowledge(2, contract, revision)

    assert (forbidden.status_code, forbidden.json()["error"]["code"]) == (
        403, "forbidden_property")
    for answer in (unknown, wrong_booking, wrong_property):
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "invalid_revision")
    assert manager.pending() == [(contract, revision, "booking_added")]


def test_a_key_without_the_scope_is_refused(handover):
    key = handover.key(scopes=("webhooks_get",))

    answer = key.get("/handover/bookings")

    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "insufficient_scope")


def test_a_change_rolled_back_makes_no_revision(handover):
    key = handover.key()

    def modify_then_fail(kit):
        services.modify_booking(kit, 41, adults=2)
        raise RuntimeError("the site's own check failed after the change")

    with pytest.raises(RuntimeError):
        handover.change(modify_then_fail)

    assert key.pending() == []


def test_black_bookings_and_notes_make_no_revision(handover):
    key = handover.key()
    arrival = date.today() + timedelta(days=300)
    handover.change(lambda kit: services.create_blackbooking(
        kit, 1, arrival, arrival + timedelta(1), [2]))
    handover.change(lambda kit: services.save_note(kit, 41, "Late arrival"))

    assert key.pending() == []


def test_the_scope_is_granted_by_managers(handover):
    result = handover.site.cli("keys", "create", "--manager", "manager", "--scope", SCOPE,
                               "--json")

    assert result.exit_code == 0, result.output


def test_revisions_older_than_the_retention_go_with_their_acknowledgements(handover):
    key = handover.key()
    old, kept = handover.book(days=200), handover.book(days=210)
    [(_, old_revision, _), _] = key.pending()
    key.acknowledge(1, old, old_revision)
    site = handover.site
    with site.app.app_context():
        cutoff = site.kit.session().scalar(select(EventRecord.created_at).where(
            EventRecord.id == old_revision)) + timedelta(microseconds=1)
        older = site.kit.session().scalar(select(func.count()).where(
            BookingRevision.revision <= old_revision))  # the demo's bookings too
        gone = revisions.prune(site.kit, cutoff)
        left = site.kit.session().scalar(select(func.count()).select_from(Acknowledgement))
        site.kit.session.remove()

    assert (gone, left) == (older, 0)
    assert [c for c, _, _ in key.pending()] == [kept]
