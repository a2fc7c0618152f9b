"""GET /api/webhooks/<property_uid>/<event>/<id>: what a notified remote service reads back,
who may read it, Jomres' old event names, tombstones, and how much of a guest it shows."""

from __future__ import annotations

import json

import requests
from jomreskit_api_feature_webhooks.callbacks import ALIASES

from jomreskit.domain import User, services


def manager_id(site, username: str) -> int:
    with site.app.app_context():
        return services.user_by_name(site.kit, username).manager_id


def test_a_booking_callback_answers_the_whole_contract(callbacks):
    contract = callbacks.record("/webhooks/1/booking_modified/41")

    assert contract["contract_uid"] == 41
    assert contract["property_uid"] == 1
    assert contract["nights"] == 3
    assert contract["status"] == "confirmed"
    assert contract["guest"]["firstname"] == "Agatha"
    assert contract["guest"]["email"] == "mrs.richards@example.com"
    [room] = contract["rooms"]
    assert (room["room_uid"], room["name"]) == (1, "Sea view double")
    assert room["nights"][0] == contract["arrival"] and len(room["nights"]) == 3
    assert contract["totals"] == {"contract_total": "225.00", "deposit_required": "50.00",
                                  "deposits_paid": "50.00", "balance": "175.00"}
    assert [d["reference"] for d in contract["deposits"]] == ["DEMO-DEP-41"]
    assert [n["text"] for n in contract["notes"]] == ["Guest is hard of hearing; speak up."]


def test_an_invoice_callback_answers_the_invoice_with_its_lines(callbacks):
    invoice = callbacks.record("/webhooks/1/invoice_created/1")

    assert (invoice["invoice_uid"], invoice["contract_uid"], invoice["status"]) == (1, 41,
                                                                                    "pending")
    assert invoice["lines"] == [{"id": invoice["lines"][0]["id"],
                                 "description": "Sea view double, 3 nights", "quantity": 3,
                                 "unit_price": "75.00", "tax_rate": "20.00", "total": "270.00"}]
    assert invoice["total"] == "270.00"


def test_property_events_take_no_id(callbacks):
    prop = callbacks.record("/webhooks/1/property_updated")

    assert prop["name"] == "Fawlty Towers"
    assert [r["room_uid"] for r in prop["rooms"]] == [1, 2, 3]
    assert callbacks.record("/webhooks/1/property_updated/1") == prop  # its own uid is fine
    assert callbacks.error("/webhooks/1/property_updated/2") == (404, "invalid_id")
    assert callbacks.record("/webhooks/1/tariffs_updated") == {"property_uid": 1, "tariffs": []}


def test_a_manager_not_linked_to_the_property_is_refused(callbacks):
    assert callbacks.error("/webhooks/1/booking_modified/41", "manager2") == (
        403, "forbidden_property")
    assert callbacks.error("/webhooks/1/property_updated", "manager2") == (
        403, "forbidden_property")
    assert callbacks.record("/webhooks/1/booking_modified/41", "super")["contract_uid"] == 41


def test_a_record_of_another_property_is_not_found_exactly_like_a_missing_one(callbacks):
    # Contract 42 is Best West Hotel's (property 2), which "manager" runs too.
    assert callbacks.record("/webhooks/2/booking_modified/42")["contract_uid"] == 42

    elsewhere = callbacks.get("/webhooks/1/booking_modified/42")
    missing = callbacks.get("/webhooks/1/booking_modified/999")

    assert elsewhere.status_code == missing.status_code == 404
    assert elsewhere.json() == {"error": {"code": "invalid_contract_uid",
                                          "message": "no contract 42 at property 1"}}
    assert missing.json()["error"]["code"] == "invalid_contract_uid"
    assert callbacks.error("/webhooks/1/invoice_updated/2") == (404, "invalid_invoice_uid")
    assert callbacks.error("/webhooks/2/guest_updated/1") == (404, "invalid_guest_uid")
    assert callbacks.error("/webhooks/1/room_updated/4") == (404, "invalid_room_uid")
    assert callbacks.error("/webhooks/2/booking_note_saved/1") == (404, "invalid_note_id")
    assert callbacks.error("/webhooks/2/deposit_saved/1") == (404, "invalid_deposit_id")


def test_wrong_addresses_answer_clear_json(callbacks):
    assert callbacks.error("/webhooks/1/booking_exploded/41") == (404, "unknown_event")
    assert callbacks.error("/webhooks/1/booking_modified") == (404, "invalid_contract_uid")
    missing = callbacks.get("/webhooks/99/property_updated")
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "invalid_property_uid", "message": "no property 99"}
    not_a_number = callbacks.get("/webhooks/1/booking_modified/forty-one")
    assert not_a_number.status_code == 404
    assert not_a_number.headers["Content-Type"] == "application/json"
    assert not_a_number.json()["error"]["code"] == "not_found"


def test_only_get_is_allowed(callbacks):
    response = requests.post(f"{callbacks.base}/api/webhooks/1/booking_modified/41",
                             headers={"Authorization": f"Bearer {callbacks.token('manager')}"})

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_jomres_old_event_names_are_aliases(callbacks):
    paths = {
        "invoice_saved": "/webhooks/1/{event}/1",
        "property_added": "/webhooks/1/{event}",
        "property_saved": "/webhooks/1/{event}",
        "booking_note_save": "/webhooks/1/{event}/1",
        "blackbooking_added": "/webhooks/1/{event}/41",
    }
    assert set(paths) == set(ALIASES)
    for old, new in ALIASES.items():
        response = callbacks.get(paths[old].format(event=old))
        assert response.status_code == 200, old
        body = response.json()
        assert body["meta"] == {"event": new, "alias": old}
        assert body["data"] == callbacks.record(paths[old].format(event=new))


def test_a_deletion_answers_a_tombstone_not_a_404(callbacks):
    site = callbacks.site
    with site.app.app_context(), site.kit.transaction():
        guest = services.save_guest(site.kit, 1, firstname="Manuel")
        services.delete_guest(site.kit, guest.guest_uid)

    tombstone = callbacks.get(f"/webhooks/1/guest_deleted/{guest.guest_uid}")

    assert tombstone.status_code == 200
    data = tombstone.json()["data"]
    assert data == {"property_uid": 1, "guest_uid": guest.guest_uid, "deleted": True,
                    "deleted_at": data["deleted_at"]}
    # The guest's other events now find nothing, and the deletion is Fawlty Towers' only.
    assert callbacks.error(f"/webhooks/1/guest_updated/{guest.guest_uid}") == (
        404, "invalid_guest_uid")
    assert callbacks.error(f"/webhooks/2/guest_deleted/{guest.guest_uid}") == (
        404, "invalid_guest_uid")
    assert callbacks.error("/webhooks/1/guest_deleted/1") == (404, "invalid_guest_uid")
    assert callbacks.error(f"/webhooks/1/guest_deleted/{guest.guest_uid}", "manager2") == (
        403, "forbidden_property")


def test_a_deleted_property_leaves_a_tombstone(callbacks):
    site = callbacks.site
    manager = manager_id(site, "manager")
    with site.app.app_context(), site.kit.transaction():
        prop = services.create_property(site.kit, "Gleneagles")
        services.link_property(site.kit, manager, prop.property_uid)
        services.delete_property(site.kit, prop.property_uid)

    data = callbacks.record(f"/webhooks/{prop.property_uid}/property_deleted")

    assert (data["property_uid"], data["deleted"]) == (prop.property_uid, True)
    assert callbacks.error(f"/webhooks/{prop.property_uid}/property_updated") == (
        404, "invalid_property_uid")
    assert callbacks.error("/webhooks/99/property_deleted") == (404, "invalid_property_uid")


def test_a_manager_reads_their_own_manager_events(callbacks):
    site = callbacks.site
    me, other = manager_id(site, "manager"), manager_id(site, "manager2")

    mine = callbacks.record(f"/webhooks/0/manager_updated/{me}")

    assert (mine["username"], mine["role"], mine["property_uids"]) == ("manager", "manager",
                                                                       [1, 2])
    assert "password_hash" not in mine and "password" not in mine
    assert callbacks.error(f"/webhooks/0/manager_updated/{other}") == (403, "forbidden_manager")
    assert callbacks.record(f"/webhooks/0/manager_added/{other}", "super")["username"] == (
        "manager2")
    assert callbacks.error(f"/webhooks/1/manager_updated/{me}") == (404, "invalid_property_uid")
    assert callbacks.error("/webhooks/0/manager_updated/999", "super") == (
        404, "invalid_manager_id")


def test_a_webhooks_own_events_are_read_by_its_manager_alone(callbacks):
    site = callbacks.site
    created = site.cli("webhooks", "create", "--manager", "manager", "--url",
                       "https://cm.example/hooks", "--authmethod", "basic", "--setting",
                       "username=cm", "--setting", "password=s3cret", "--json")
    webhook = json.loads(created.output)

    mine = callbacks.record(f"/webhooks/0/webhook_circuit_opened/{webhook['id']}")

    assert (mine["webhook_id"], mine["manager_id"], mine["url"]) == (
        webhook["id"], manager_id(site, "manager"), "https://cm.example/hooks")
    assert mine["circuit"]["state"] == "closed" and mine["enabled"] is True
    assert mine["settings"] == {"username": "cm", "password": "********"}
    assert webhook["secret"] not in json.dumps(mine) and "s3cret" not in json.dumps(mine)
    # Another manager, or a super manager, learns nothing of it, not even that it exists.
    for other in ("manager2", "super"):
        assert callbacks.error(f"/webhooks/0/webhook_disabled/{webhook['id']}", other) == (
            404, "invalid_webhook_id")
    assert callbacks.error("/webhooks/0/webhook_disabled/999") == (404, "invalid_webhook_id")


def test_a_manager_who_is_gone_leaves_a_tombstone_for_super_managers(callbacks):
    site = callbacks.site
    with site.app.app_context(), site.kit.transaction():
        polly = services.create_user(site.kit, "polly")
        services.delete_user(site.kit, polly.manager_id)
        assert site.kit.session().get(User, polly.manager_id) is None

    data = callbacks.record(f"/webhooks/0/manager_deleted/{polly.manager_id}", "super")

    assert (data["manager_id"], data["deleted"]) == (polly.manager_id, True)


def test_guest_details_can_be_limited_by_configuration(make_callbacks):
    callbacks = make_callbacks(JOMRESKIT_WEBHOOKS_GUEST_FIELDS="firstname, email")

    contract = callbacks.record("/webhooks/1/booking_modified/41")
    guest = callbacks.record("/webhooks/1/guest_updated/1")

    assert contract["guest"] == {"guest_uid": 1, "property_uid": 1, "firstname": "Agatha",
                                 "email": "mrs.richards@example.com"}
    assert guest == contract["guest"]


def test_guest_details_can_be_left_out_entirely(make_callbacks):
    callbacks = make_callbacks(JOMRESKIT_WEBHOOKS_GUEST_FIELDS="")

    contract = callbacks.record("/webhooks/1/booking_modified/41")

    assert contract["guest"] == {"guest_uid": 1, "property_uid": 1}


def test_unknown_guest_fields_are_left_out_with_a_warning(make_callbacks, caplog):
    callbacks = make_callbacks(JOMRESKIT_WEBHOOKS_GUEST_FIELDS="surname,passport_number")

    guest = callbacks.record("/webhooks/1/guest_updated/1")

    assert guest == {"guest_uid": 1, "property_uid": 1, "surname": "Richards"}
    assert "unknown guest field(s) passport_number" in caplog.text


def test_the_openapi_document_describes_both_callback_routes(callbacks):
    document = requests.get(f"{callbacks.base}/api/openapi.json", timeout=10).json()

    with_id = document["paths"]["/webhooks/{property_uid}/{event}/{id}"]["get"]
    without_id = document["paths"]["/webhooks/{property_uid}/{event}"]["get"]
    assert [p["name"] for p in with_id["parameters"]] == ["property_uid", "event", "id"]
    assert [p["name"] for p in without_id["parameters"]] == ["property_uid", "event"]
    events = with_id["parameters"][1]["schema"]["enum"]
    assert {"booking_modified", "manager_deleted", "invoice_saved", "booking_note_save"} <= set(
        events)
    assert "property_updated" not in events
    assert set(without_id["parameters"][1]["schema"]["enum"]) == {
        "property_created", "property_updated", "property_deleted", "property_published",
        "property_unpublished", "tariffs_updated", "restrictions_updated", "availability_updated",
        "property_added", "property_saved"}
    assert with_id["security"] == [{"oauth2": ["webhooks_get"]}]
