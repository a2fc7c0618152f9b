"""Domain services change data and fire their catalog events; the demo data set is stable."""

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from jomreskit import Conflict, NotFound, ValidationError
from jomreskit.core.catalog import JOMRES_EVENTS
from jomreskit.domain import Contract, EventRecord, RoomBooking
from jomreskit.domain import services as s


def fired_since(site, after_id):
    with site.kit.transaction() as session:
        rows = session.scalars(select(EventRecord).where(EventRecord.id > after_id))
        return [(r.name, r.ids) for r in rows]


def last_event_id(site):
    with site.kit.transaction() as session:
        return session.scalar(select(func.max(EventRecord.id))) or 0


def test_every_catalog_event_is_fired_by_a_domain_service(site):
    start = last_event_id(site)
    arrival = date.today() + timedelta(days=100)
    with site.app.app_context(), site.kit.transaction():
        kit = site.kit
        prop = s.create_property(kit, "Gleneagles", town="Torquay", country="GB")
        s.update_property(kit, prop.property_uid, stars=3)
        s.set_published(kit, prop.property_uid, True)
        s.set_published(kit, prop.property_uid, False)
        room = s.add_room(kit, prop.property_uid, name="Room 1")
        s.update_room(kit, room.room_uid, max_people=3)
        spare = s.add_room(kit, prop.property_uid, name="Room 2")
        s.update_tariffs(
            kit,
            prop.property_uid,
            [
                {
                    "room_type": "Double",
                    "valid_from": arrival,
                    "valid_to": arrival + timedelta(30),
                    "price_per_night": Decimal("80"),
                }
            ],
        )
        guest = s.save_guest(kit, prop.property_uid, firstname="Polly")
        s.save_guest(kit, prop.property_uid, guest.guest_uid, surname="Sherman")
        booking = s.add_booking(
            kit,
            prop.property_uid,
            arrival,
            arrival + timedelta(2),
            [room.room_uid],
            guest_uid=guest.guest_uid,
        )
        uid = booking.contract_uid
        s.modify_booking(kit, uid, adults=2)
        s.check_in(kit, uid)
        s.check_in(kit, uid, undo=True)
        s.check_out(kit, uid)
        s.check_out(kit, uid, undo=True)
        note = s.save_note(kit, uid, "Late arrival")
        s.delete_note(kit, note.note_id)
        s.save_deposit(kit, uid, Decimal("20"))
        s.mark_noshow(kit, uid)
        s.cancel_booking(kit, uid)
        s.create_blackbooking(
            kit, prop.property_uid, arrival, arrival + timedelta(1), [spare.room_uid]
        )
        invoice = s.create_invoice(
            kit, prop.property_uid, [{"description": "Night", "unit_price": "80"}]
        )
        s.update_invoice(kit, invoice.invoice_uid, status="paid")
        s.cancel_invoice(kit, invoice.invoice_uid)
        review = s.save_review(kit, prop.property_uid, 8, title="Lovely")
        s.set_review_published(kit, review.review_uid, True)
        s.set_review_published(kit, review.review_uid, False)
        s.delete_review(kit, review.review_uid)
        extra = s.save_extra(kit, prop.property_uid, name="Parking")
        s.delete_extra(kit, extra.extra_uid)
        coupon = s.save_coupon(kit, prop.property_uid, code="SPRING")
        s.delete_coupon(kit, coupon.coupon_uid)
        manager = s.create_user(kit, "terry", property_uids=[prop.property_uid])
        s.update_user(kit, manager.manager_id, email="terry@example.com")
        s.delete_user(kit, manager.manager_id)
        s.delete_guest(kit, guest.guest_uid)
        s.delete_room(kit, spare.room_uid)
        s.delete_property(kit, prop.property_uid)

    fired = fired_since(site, start)
    assert {name for name, _ in fired} == set(JOMRES_EVENTS)
    for name, ids in fired:
        assert tuple(ids) == JOMRES_EVENTS[name][0], name


def test_a_room_cannot_be_booked_twice_for_the_same_night(site):
    with site.app.app_context(), site.kit.transaction():
        taken = site.kit.session().get(Contract, 41)
        with pytest.raises(Conflict) as error:
            s.add_booking(site.kit, 1, taken.arrival, taken.departure, [1])
    assert error.value.code == "room_unavailable"


def test_cancelling_a_booking_frees_its_rooms(site):
    with site.app.app_context(), site.kit.transaction() as session:
        contract = session.get(Contract, 41)
        s.cancel_booking(site.kit, 41)
        again = s.add_booking(site.kit, 1, contract.arrival, contract.departure, [1])
        nights = session.scalar(
            select(func.count())
            .select_from(RoomBooking)
            .where(RoomBooking.contract_uid == again.contract_uid)
        )
    assert nights == (contract.departure - contract.arrival).days


def test_services_refuse_unknown_ids_and_bad_values(site):
    with site.app.app_context(), site.kit.transaction():
        with pytest.raises(NotFound) as missing:
            s.modify_booking(site.kit, 999, adults=1)
        with pytest.raises(ValidationError):
            s.add_booking(site.kit, 1, date(2030, 1, 2), date(2030, 1, 1), [1])
        with pytest.raises(ValidationError):
            s.add_booking(site.kit, 1, date(2030, 1, 1), date(2030, 1, 2), [4])  # property 2's room
    assert missing.value.code == "invalid_contract_uid"
    assert missing.value.message == "no contract 999"


def test_a_record_of_one_property_is_not_changed_through_another(site):
    with site.app.app_context(), site.kit.transaction():
        refused = {}
        for save, uid in ((s.save_guest, "guest_uid"), (s.save_extra, "extra_uid"),
                          (s.save_coupon, "coupon_uid")):
            with pytest.raises(NotFound) as found:
                save(site.kit, 2, **{uid: 1})  # guest, extra and coupon 1 are property 1's
            refused[uid] = (found.value.code, found.value.message)
    assert refused == {
        "guest_uid": ("invalid_guest_uid", "no guest 1 at property 2"),
        "extra_uid": ("invalid_extra_uid", "no extra 1 at property 2"),
        "coupon_uid": ("invalid_coupon_uid", "no coupon 1 at property 2"),
    }


def test_demo_seed_is_idempotent_and_prints_every_id(site):
    first = site.cli("demo", "seed", "--json")
    again = site.cli("demo", "seed", "--json")
    assert first.exit_code == again.exit_code == 0
    data = json.loads(again.output)
    assert json.loads(first.output) == data
    assert data["properties"] == [
        {"property_uid": 1, "name": "Fawlty Towers"},
        {"property_uid": 2, "name": "Best West Hotel"},
    ]
    users = {u["username"]: u for u in data["users"]}
    assert users["manager"]["property_uids"] == [1, 2]
    assert users["manager2"]["property_uids"] == []
    assert users["super"]["role"] == "super"
    contract = data["contracts"][0]
    assert (contract["contract_uid"], contract["property_uid"]) == (41, 1)
    assert contract["note_ids"] and contract["deposit_ids"]
    assert {i["invoice_uid"] for i in data["invoices"]} == {1, 2}


def test_new_records_after_the_seed_get_fresh_ids(site):
    # On PostgreSQL the seed's explicit ids must not leave sequences behind.
    with site.app.app_context(), site.kit.transaction():
        prop = s.create_property(site.kit, "Another")
        guest = s.save_guest(site.kit, 1, firstname="New")
    assert prop.property_uid > 2
    assert guest.guest_uid > 2


def test_users_create_links_properties_and_refuses_duplicates(site):
    ok = site.cli("users", "create", "polly", "--property", "1", "--password",
                  "fawlty-towers-1975", "--json")
    assert ok.exit_code == 0, ok.output
    created = json.loads(ok.output)
    assert created["property_uids"] == [1]
    assert "password_hash" not in created and "fawlty" not in ok.output
    listed = json.loads(site.cli("users", "list", "--json").output)
    assert [u for u in listed if u["username"] == "polly"] == [created]
    again = site.cli("users", "create", "polly")
    assert again.exit_code == 1
    assert again.output.strip() == "Error: a user named 'polly' already exists"
    unknown = site.cli("users", "create", "manuel", "--property", "99")
    assert unknown.output.strip() == "Error: no property 99"
