"""Every event in the catalog has a callback, and each one answers the record it is about.

A plugin that adds an event adds its callback through ``register_event_callbacks``; the first
test here fails for any event in the catalog without one.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

from jomreskit_api_feature_webhooks.callbacks import callback_id_field
from sqlalchemy import func, select

from jomreskit import Event
from jomreskit.domain import EventRecord
from jomreskit.domain import services as s

CHANNEL_PLUGIN = '''
from jomreskit import EventType, hookimpl

requires = ["api_feature_webhooks"]


@hookimpl
def register_events():
    return [EventType("channel_synced", ("property_uid", "sync_id"), "A channel finished a sync."),
            EventType("channel_forgotten", ("property_uid",), "A channel was disconnected.")]


@hookimpl
def register_event_callbacks():
    def read_sync(kit, property_uid, sync_id):
        return {"property_uid": property_uid, "sync_id": sync_id, "rooms_sent": 3}

    return {"channel_synced": read_sync}
'''


def events_without_callback(kit) -> list[str]:
    readers = {name for offered in kit.hooks.pm.hook.register_event_callbacks() for name in offered}
    return [event_type.name for event_type in kit.catalog if event_type.name not in readers]


def test_every_catalog_event_has_a_callback(api_site):
    assert len(api_site.kit.catalog) >= 38
    assert events_without_callback(api_site.kit) == []


def test_a_plugin_adds_the_callbacks_of_its_own_events(make_callbacks):
    callbacks = make_callbacks(plugins=[CHANNEL_PLUGIN])

    assert events_without_callback(callbacks.site.kit) == ["channel_forgotten"]
    assert callbacks.record("/webhooks/1/channel_synced/7") == {
        "property_uid": 1, "sync_id": 7, "rooms_sent": 3}
    assert callbacks.error("/webhooks/1/channel_forgotten") == (404, "no_callback")


def last_event_id(site) -> int:
    with site.app.app_context():
        return site.kit.session().scalar(select(func.max(EventRecord.id))) or 0


def events_since(site, after: int) -> list[Event]:
    with site.app.app_context():
        rows = site.kit.session().scalars(select(EventRecord).where(EventRecord.id > after)
                                          .order_by(EventRecord.id))
        return [Event(r.id, r.name, r.ids, r.created_at, site.kit.catalog.get(r.name))
                for r in rows]


# Events a plugin fires on its own rather than a change through the domain's services; their
# plugins' tests read their callbacks (api_feature_handover: tests/test_alarm.py).
FIRED_BY_THEIR_PLUGINS = {"booking_unacknowledged"}

DELETIONS = {"booking_note_deleted", "guest_deleted", "property_deleted", "room_deleted",
             "review_deleted", "extra_deleted", "coupon_deleted", "manager_deleted"}

# What each kind of record must show, besides the id the callback was asked for.
SHOWS = {
    "contract_uid": {"guest", "rooms", "arrival", "departure", "status", "totals", "deposits",
                     "notes"},
    "note_id": {"text", "contract"},
    "deposit_id": {"amount", "contract"},
    "guest_uid": {"firstname", "surname", "email"},
    "invoice_uid": {"lines", "total", "status"},
    "room_uid": {"name", "max_people", "price_per_night"},
    "review_uid": {"rating", "text", "published"},
    "extra_uid": {"name", "price"},
    "coupon_uid": {"code", "discount_percent"},
    "manager_id": {"username", "role", "property_uids"},
    "webhook_id": {"url", "enabled", "disabled_reason", "circuit"},
}


def test_the_callback_of_every_event_answers_its_record(callbacks):
    site, kit = callbacks.site, callbacks.site.kit
    arrival = date.today() + timedelta(days=100)
    with site.app.app_context(), kit.transaction():
        # What the events below delete is made first, so nothing they answer is gone later.
        doomed_property = s.create_property(kit, "Doomed Manor")
        s.link_property(kit, 1, doomed_property.property_uid)  # manager 1 is "manager"
        prop = s.create_property(kit, "Gleneagles", town="Torquay", country="GB")
        s.link_property(kit, 1, prop.property_uid)
        uid = prop.property_uid
        doomed_room = s.add_room(kit, uid, name="Doomed room")
        doomed_guest = s.save_guest(kit, uid, firstname="Doomed")
        doomed_review = s.save_review(kit, uid, 2)
        doomed_extra = s.save_extra(kit, uid, name="Doomed extra")
        doomed_coupon = s.save_coupon(kit, uid, code="DOOMED")
        doomed_manager = s.create_user(kit, "polly", property_uids=[uid])
        doomed_note = s.save_note(kit, 41, "Wrong note")  # on the demo's contract 41
        # Their ids now: a host's session (embedded) expires its rows at the commit.
        doomed_ids = {name: next(iter(row.__mapper__.primary_key_from_instance(row))) for name, row
                      in [("room", doomed_room), ("guest", doomed_guest), ("review", doomed_review),
                          ("extra", doomed_extra), ("coupon", doomed_coupon),
                          ("manager", doomed_manager), ("note", doomed_note),
                          ("property", doomed_property)]}
    created = site.cli("webhooks", "create", "--manager", "manager", "--url",
                       "https://cm.example/hooks", "--json")
    webhook_id = json.loads(created.output)["id"]
    start = last_event_id(site)
    with site.app.app_context(), kit.transaction():
        another = s.create_property(kit, "Sea Breeze")
        s.link_property(kit, 1, another.property_uid)
        s.update_property(kit, uid, stars=3)
        s.set_published(kit, uid, True)
        s.set_published(kit, uid, False)
        room = s.add_room(kit, uid, name="Room 1", features=["sea view"])
        s.update_room(kit, room.room_uid, max_people=3)
        spare = s.add_room(kit, uid, name="Room 2")
        s.update_tariffs(kit, uid, [{"room_type": "Double", "valid_from": arrival,
                                     "valid_to": arrival + timedelta(30),
                                     "price_per_night": Decimal("80")}])
        # api_feature_availability's writes fire them once per write, naming the nights
        kit.fire("restrictions_updated", property_uid=uid, **s.nights_covered(arrival, arrival))
        kit.fire("availability_updated", property_uid=uid, **s.nights_covered(arrival, arrival))
        guest = s.save_guest(kit, uid, firstname="Polly")
        s.save_guest(kit, uid, guest.guest_uid, surname="Sherman")
        booking = s.add_booking(kit, uid, arrival, arrival + timedelta(2), [room.room_uid],
                                guest_uid=guest.guest_uid, contract_total=Decimal("160"))
        contract_uid = booking.contract_uid
        s.modify_booking(kit, contract_uid, adults=2)
        s.check_in(kit, contract_uid)
        s.check_in(kit, contract_uid, undo=True)
        s.check_out(kit, contract_uid)
        s.check_out(kit, contract_uid, undo=True)
        s.save_note(kit, contract_uid, "Late arrival")
        s.delete_note(kit, doomed_ids["note"])
        s.save_deposit(kit, contract_uid, Decimal("20"))
        s.mark_noshow(kit, contract_uid)
        s.cancel_booking(kit, contract_uid)
        s.create_blackbooking(kit, uid, arrival, arrival + timedelta(1), [spare.room_uid])
        invoice = s.create_invoice(kit, uid, [{"description": "Night", "unit_price": "80"}])
        s.update_invoice(kit, invoice.invoice_uid, status="paid")
        s.cancel_invoice(kit, invoice.invoice_uid)
        review = s.save_review(kit, uid, 8, title="Lovely")
        s.set_review_published(kit, review.review_uid, True)
        s.set_review_published(kit, review.review_uid, False)
        s.save_extra(kit, uid, name="Parking")
        s.save_coupon(kit, uid, code="SPRING")
        terry = s.create_user(kit, "terry", property_uids=[uid])
        s.update_user(kit, terry.manager_id, email="terry@example.com")
        terry_id = terry.manager_id
        s.delete_review(kit, doomed_ids["review"])
        s.delete_extra(kit, doomed_ids["extra"])
        s.delete_coupon(kit, doomed_ids["coupon"])
        s.delete_user(kit, doomed_ids["manager"])
        s.delete_guest(kit, doomed_ids["guest"])
        s.delete_room(kit, doomed_ids["room"])
        s.delete_property(kit, doomed_ids["property"])
        # A webhook's own events (webhooks_core's breaker fires them): about no property.
        for name in ("webhook_circuit_opened", "webhook_circuit_closed", "webhook_disabled"):
            kit.fire(name, manager_id=1, webhook_id=webhook_id)
    fired = events_since(site, start)
    unfired = {t.name for t in kit.catalog} - {e.name for e in fired}
    assert unfired <= FIRED_BY_THEIR_PLUGINS  # every other event, once or more

    usernames = {1: "manager", terry_id: "terry"}
    problems = []
    for event in fired:
        with site.app.app_context():
            url = kit.callback_url(event)
        assert url is not None and url.startswith(callbacks.base + "/api/webhooks/"), url
        field = callback_id_field(event.type)
        # Manager events are read by that manager (or a super manager, once they are gone).
        reader = usernames.get(event.ids.get("manager_id"), "super") if field == "manager_id" \
            else "manager"
        response = callbacks.get(url, reader)
        data = response.json().get("data")
        if response.status_code != 200 or data is None:
            problems.append(f"{event.name}: {response.status_code} {response.text[:200]}")
            continue
        for key in event.type.id_fields:  # a record names its ids, not an event's nights
            value = event.ids[key]
            if data.get(key) != value:
                problems.append(f"{event.name}: {key} is {data.get(key)!r}, not {value!r}")
        if event.name in DELETIONS:
            if data.get("deleted") is not True or "deleted_at" not in data:
                problems.append(f"{event.name}: not a tombstone: {data}")
        elif field is None:
            expected = {"tariffs_updated": {"tariffs"}, "restrictions_updated": {"room_types"},
                        "availability_updated": {"rooms", "arrival", "departure"},
                        }.get(event.name, {"name", "rooms"})
            if not expected <= set(data):
                problems.append(f"{event.name}: lacks {expected - set(data)}")
        elif not SHOWS[field] <= set(data):
            problems.append(f"{event.name}: lacks {SHOWS[field] - set(data)}")
    assert problems == []
