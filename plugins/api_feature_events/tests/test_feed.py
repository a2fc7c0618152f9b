"""GET /events: a manager's events, oldest first, page by page, with the fields a notification
carries; filters; every bad request answers the API's JSON error."""

from __future__ import annotations

import pytest
import requests
from jomreskit_api_core.testing import auth, create_key, issue_token

from jomreskit import Event
from jomreskit.domain import services


def test_a_manager_reads_the_events_of_their_properties_oldest_first(feed):
    note_event = feed.fire_note(41, "late check-in")

    events, _ = feed.read_all()

    assert [e["id"] for e in events] == feed.event_ids({1, 2})
    assert {e["ids"]["property_uid"] for e in events} == {1, 2}
    last = events[-1]
    assert (last["id"], last["type"]) == (note_event, "booking_note_saved")
    assert last["ids"]["contract_uid"] == 41
    assert last["timestamp"].endswith("Z")


def test_each_event_carries_the_callback_url_a_notification_would(feed):
    feed.fire_note(41)
    events, _ = feed.read_all()
    kit = feed.site.kit
    with feed.site.app.test_request_context():
        for event in events[-3:]:
            expected = kit.callback_url(Event(id=event["id"], name=event["type"],
                                              ids=event["ids"], timestamp=None,
                                              type=kit.catalog.get(event["type"])))
            assert event["callback_url"] == expected
    assert events[-1]["callback_url"].startswith(feed.site.app.config["JOMRESKIT_BASE_URL"])


def test_pages_follow_the_cursor_and_hand_out_each_event_once(feed):
    for n in range(7):
        feed.fire_note(41, f"note {n}")

    events, cursor = feed.read_all(limit=3)

    assert [e["id"] for e in events] == feed.event_ids({1, 2})
    assert feed.page(after=cursor)["data"] == []
    newest = feed.fire_note(41, "one more")
    assert [e["id"] for e in feed.read_all(after=cursor)[0]] == [newest]


def test_each_events_cursor_reads_on_after_it(feed):
    feed.fire_note(41)
    # every event, the note included: read alone, one page could miss the note while a
    # transaction elsewhere on the server held it back, and the next page find it
    events, _ = feed.read_all(limit=1000)
    middle = len(events) // 2
    rest = feed.page(after=events[middle]["cursor"], limit=1000)["data"]
    assert rest == events[middle + 1:]


def test_another_managers_events_are_never_visible(feed):
    site = feed.site
    with site.app.app_context(), site.kit.transaction():
        kit = site.kit
        other = services.create_property(kit, "Other Inn", published=True)
        services.link_property(kit, services.user_by_name(kit, "manager2").manager_id,
                               other.property_uid)
        services.save_guest(kit, other.property_uid, firstname="Ada", surname="Other")
        other_uid = other.property_uid  # a host's session expires it at the commit
    theirs = feed.event_ids({other_uid})

    mine, _ = feed.read_all("manager")
    seen_by_manager2, _ = feed.read_all("manager2")
    everything, _ = feed.read_all("super")

    assert theirs and not set(theirs) & {e["id"] for e in mine}
    assert [e["id"] for e in seen_by_manager2] == theirs
    assert [e["id"] for e in everything] == feed.event_ids()
    assert feed.error(feed.get("manager", property_uid=other_uid)) == (
        403, "forbidden_property")


def test_a_notice_to_a_manager_shows_in_their_feed_and_no_other_managers(feed):
    # A webhook's circuit opening carries no property: it is declared for the manager it
    # names, so its owner sees it, another manager does not (manager2 runs no property);
    # manager_added and manager_updated declare no such thing and stay with super managers.
    webhooks = pytest.importorskip("jomreskit_webhooks_core.services")
    site = feed.site
    notices = {}
    with site.app.app_context(), site.kit.transaction():
        kit = site.kit
        for username in ("manager", "manager2"):
            owner = services.user_by_name(kit, username).manager_id
            webhook, _secret = webhooks.create_webhook(kit, owner, "http://127.0.0.1:9/hook")
            ids = {"manager_id": owner, "webhook_id": webhook.id}
            notices[username] = (kit.fire("webhook_circuit_opened", **ids).id, ids)
        services.create_user(kit, "newcomer")
        updated = kit.fire("manager_updated", manager_id=owner).id  # manager2's own
    assert kit.catalog.get("webhook_circuit_opened").for_manager

    def notices_in(events):
        return [(e["id"], e["ids"]) for e in events if e["type"] == "webhook_circuit_opened"]

    mine, _ = feed.read_all("manager")
    theirs, _ = feed.read_all("manager2")
    everything, _ = feed.read_all("super")

    assert notices_in(mine) == [notices["manager"]]
    assert [(e["id"], e["ids"]) for e in theirs] == [notices["manager2"]]
    assert notices_in(everything) == [notices["manager"], notices["manager2"]]
    never = {"manager_added", "manager_updated"}
    assert {e["type"] for e in mine} & never == set()
    assert {e["type"] for e in everything} >= never and updated in {e["id"] for e in everything}
    # A property's events only, when asked for: a notice carries none.
    assert notices_in(feed.read_all("manager", property_uid=1)[0]) == []
    assert notices_in(feed.read_all("manager", types="webhook_circuit_opened")[0]) == [
        notices["manager"]]


def test_filters_by_type_and_property(feed):
    feed.fire_note(41)
    feed.fire_note(42)

    notes, _ = feed.read_all(types="booking_note_saved")
    at_fawlty, _ = feed.read_all(property_uid=1)
    both, _ = feed.read_all(types="booking_note_saved,guest_saved", property_uid=2)

    assert notes and {e["type"] for e in notes} == {"booking_note_saved"}
    assert at_fawlty and {e["ids"]["property_uid"] for e in at_fawlty} == {1}
    assert both and {e["ids"]["property_uid"] for e in both} == {2}
    assert {e["type"] for e in both} <= {"booking_note_saved", "guest_saved"}


def test_a_filtered_reader_still_moves_past_events_it_does_not_want(feed):
    _, cursor = feed.read_all(types="booking_note_saved")
    feed.fire_note(41)
    events, _ = feed.read_all(after=cursor, types="guest_saved")
    page = feed.page(after=cursor, types="guest_saved")
    assert events == [] and page["data"] == []
    # no rereading the note next time, even for a reader that wants notes now
    assert feed.page(after=page["meta"]["next"], types="booking_note_saved")["data"] == []


def test_bad_requests_answer_one_json_error(feed):
    cases = {
        (422, "invalid_after"): {"after": "12"},
        (422, "invalid_limit"): {"limit": "0"},
        (422, "invalid_types"): {"types": "no_such_event"},
        (422, "invalid_wait"): {"wait": "31"},
        (422, "invalid_property_uid"): {"property_uid": "one"},
    }
    got = {}
    for expected, params in cases.items():
        got[expected] = feed.error(feed.get(**params))
    assert got == {expected: expected for expected in cases}
    assert feed.error(feed.get(limit="1001")) == (422, "invalid_limit")
    assert feed.error(feed.get(property_uid=str(2**31))) == (422, "invalid_property_uid")


def test_a_key_without_the_scope_is_refused(feed):
    from jomreskit_api_core.testing import bearer_token

    feed.tokens["manager"] = bearer_token(feed.site, "manager", ["webhooks_get"])
    assert feed.error(feed.get()) == (403, "insufficient_scope")


NOTE_WRITER = '''
from jomreskit import Scope, hookimpl
from jomreskit.domain import services
from jomreskit_api_core import current_json

requires = ["api_core"]


@hookimpl
def register_scopes():
    return [Scope("notes_write", "Add notes to bookings.")]


@hookimpl
def register_api_routes(api):
    @api.route("/notes/<int:contract_uid>", methods=("POST",), scope="notes_write",
               summary="Add a note")
    def add_note(contract_uid):
        return {"note_id": services.save_note(api.kit, contract_uid,
                                              current_json()["text"]).note_id}
'''


def test_an_event_written_through_the_api_names_the_writing_key(make_feed):
    feed = make_feed(plugins=[NOTE_WRITER])
    client_id, secret = create_key(feed.site, "manager", ["notes_write"])
    token = issue_token(feed.site, client_id, secret)
    written = requests.post(f"{feed.base}/notes/41", json={"text": "from the channel manager"},
                            headers=auth(token))
    assert written.status_code == 200, written.text
    on_the_site = feed.fire_note(41, "from the front desk")

    events, _ = feed.read_all()

    *_, through_the_api, site_change = events
    assert through_the_api["type"] == "booking_note_saved"
    assert through_the_api["ids"]["note_id"] == written.json()["data"]["note_id"]
    assert through_the_api["origin"] == {"client_id": client_id}
    assert site_change["id"] == on_the_site
    assert "origin" not in site_change
