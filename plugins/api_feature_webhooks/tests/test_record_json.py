"""A record reads back whole and exactly as documented on either database: money as strings
with two decimals (totals rounded half to even, whatever the database), times as ISO 8601
as ``timestamp_text`` writes them (fixed microseconds), every key in its place."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from jomreskit.core.domain import services
from jomreskit.core.domain.models import Contract, Guest
from jomreskit.db import timestamp_text


def test_a_booking_reads_back_whole(callbacks):
    site = callbacks.site
    with site.app.app_context():
        contract = site.kit.session().get(Contract, 41)
        guest = site.kit.session().get(Guest, 1)
        [deposit], [note] = contract.deposits, contract.notes
        nights = [night.date.isoformat() for night in contract.room_bookings]
        expected = {
            "contract_uid": 41, "property_uid": 1, "booking_number": contract.booking_number,
            "arrival": contract.arrival.isoformat(), "departure": contract.departure.isoformat(),
            "nights": 3, "status": "confirmed", "blackbooking": False, "checked_in": False,
            "checked_out": False, "adults": contract.adults, "children": contract.children,
            "guest": {
                "guest_uid": 1, "property_uid": 1, "firstname": "Agatha", "surname": "Richards",
                "email": "mrs.richards@example.com", "telephone": "+44 1803 000001",
                "street": guest.street, "town": "Bristol", "postcode": guest.postcode,
                "country": "GB", "created_at": timestamp_text(guest.created_at),
                "updated_at": timestamp_text(guest.updated_at),
            },
            "rooms": [{"room_uid": 1, "room_number": "1", "name": "Sea view double",
                       "room_type": "Double", "nights": nights}],
            "currency": contract.currency,
            "totals": {"contract_total": "225.00", "deposit_required": "50.00",
                       "deposits_paid": "50.00", "balance": "175.00"},
            "deposits": [{"deposit_id": deposit.deposit_id, "contract_uid": 41,
                          "amount": "50.00", "reference": "DEMO-DEP-41",
                          "created_at": timestamp_text(deposit.created_at)}],
            "notes": [{"note_id": note.note_id, "contract_uid": 41,
                       "text": "Guest is hard of hearing; speak up.",
                       "created_at": timestamp_text(note.created_at)}],
            "special_requests": contract.special_requests,
            "created_at": timestamp_text(contract.created_at),
            "updated_at": timestamp_text(contract.updated_at),
        }

    response = callbacks.get("/webhooks/1/booking_modified/41")

    assert list(response.json()["data"].items()) == list(expected.items())  # order included


def test_times_are_written_as_every_other_time_is_with_fixed_microseconds(callbacks):
    site = callbacks.site
    on_the_second = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    with site.app.app_context(), site.kit.transaction():
        plain = services.save_note(site.kit, 41, "on the second", created_at=on_the_second)
        fine = services.save_note(site.kit, 41, "a little after",
                                  created_at=on_the_second.replace(microsecond=120))
        plain_id, fine_id = plain.note_id, fine.note_id  # a host's session expires them

    contract = callbacks.record("/webhooks/1/booking_modified/41")

    created = {n["note_id"]: n["created_at"] for n in contract["notes"]}
    assert created[plain_id] == timestamp_text(on_the_second) == (
        "2026-03-01T09:30:00.000000+00:00")
    assert created[fine_id] == "2026-03-01T09:30:00.000120+00:00"


def test_invoice_totals_round_half_to_even_on_every_database(callbacks):
    site = callbacks.site
    with site.app.app_context(), site.kit.transaction():
        invoice = services.create_invoice(site.kit, 1, [
            {"description": "tea", "quantity": 3, "unit_price": "0.05",
             "tax_rate": Decimal("10")},  # 0.165: half to even is 0.16 (SQL's round says 0.17)
            {"description": "scones", "quantity": 1, "unit_price": "0.25",
             "tax_rate": Decimal("10")},  # 0.275 -> 0.28
        ], due_date=date(2026, 12, 24)).invoice_uid

    data = callbacks.record(f"/webhooks/1/invoice_created/{invoice}")

    assert [(line["unit_price"], line["tax_rate"], line["total"]) for line in data["lines"]] == [
        ("0.05", "10.00", "0.16"), ("0.25", "10.00", "0.28")]
    assert (data["total"], data["due_date"], data["contract_uid"]) == ("0.44", "2026-12-24", None)


def test_a_booking_without_guest_or_rooms_and_a_room_without_features(callbacks):
    site = callbacks.site
    with site.app.app_context(), site.kit.transaction():
        block = services.create_blackbooking(site.kit, 1, date(2027, 2, 1), date(2027, 2, 3),
                                             []).contract_uid
        room = services.add_room(site.kit, 1, name="Broom cupboard", features=None).room_uid

    contract = callbacks.record(f"/webhooks/1/blackbooking_created/{block}")
    shown = callbacks.record(f"/webhooks/1/room_added/{room}")

    assert (contract["guest"], contract["rooms"], contract["blackbooking"]) == (None, [], True)
    assert (contract["nights"], contract["deposits"], contract["notes"]) == (2, [], [])
    assert contract["totals"] == {"contract_total": "0.00", "deposit_required": "0.00",
                                  "deposits_paid": "0.00", "balance": "0.00"}
    assert shown["features"] == [] and shown["price_per_night"] == "0.00"


def test_booking_totals_are_exact_cents_on_every_database(callbacks):
    # 0.10 + 0.20 is 0.30000000000000004 in binary floating point, as SQLite adds: the totals
    # must still read 0.30 paid and 0.00 left (not -0.00), and a deposit's own record as well.
    site = callbacks.site
    with site.app.app_context(), site.kit.transaction():
        contract = services.add_booking(site.kit, 1, date(2027, 3, 1), date(2027, 3, 2), [],
                                        contract_total=Decimal("0.30"))
        services.save_deposit(site.kit, contract.contract_uid, Decimal("0.10"))
        deposit = services.save_deposit(site.kit, contract.contract_uid, Decimal("0.20"))
        overpaid = services.add_booking(site.kit, 1, date(2027, 4, 1), date(2027, 4, 2), [],
                                        contract_total=Decimal("1234567.89"))
        for amount in ("1234567.89", "0.01"):
            services.save_deposit(site.kit, overpaid.contract_uid, Decimal(amount))
        contract, deposit = contract.contract_uid, deposit.deposit_id
        overpaid = overpaid.contract_uid

    paid = callbacks.record(f"/webhooks/1/booking_modified/{contract}")
    via_deposit = callbacks.record(f"/webhooks/1/deposit_saved/{deposit}")
    over = callbacks.record(f"/webhooks/1/booking_modified/{overpaid}")

    assert paid["totals"] == via_deposit["contract"]["totals"] == {
        "contract_total": "0.30", "deposit_required": "0.00", "deposits_paid": "0.30",
        "balance": "0.00"}
    assert (over["totals"]["deposits_paid"], over["totals"]["balance"]) == ("1234567.90", "-0.01")
