"""The callback URL of an event (``kit.callback_url(event)``, which webhooks_core puts in each
notification): absolute, from JOMRESKIT_BASE_URL and the API prefix, naming the record."""

from __future__ import annotations

import pytest


def fired_url(site, name: str, **ids: int) -> str | None:
    with site.app.app_context(), site.kit.transaction():
        event = site.kit.fire(name, **ids)
        return site.kit.callback_url(event)


@pytest.mark.parametrize(("name", "ids", "path"), [
    ("booking_modified", {"property_uid": 1, "contract_uid": 41},
     "/webhooks/1/booking_modified/41"),
    ("booking_note_saved", {"property_uid": 1, "contract_uid": 41, "note_id": 3},
     "/webhooks/1/booking_note_saved/3"),
    ("deposit_saved", {"property_uid": 1, "contract_uid": 41, "deposit_id": 2},
     "/webhooks/1/deposit_saved/2"),
    ("invoice_updated", {"property_uid": 2, "invoice_uid": 2}, "/webhooks/2/invoice_updated/2"),
    ("property_updated", {"property_uid": 2}, "/webhooks/2/property_updated"),
    ("tariffs_updated", {"property_uid": 1}, "/webhooks/1/tariffs_updated"),
    ("manager_updated", {"manager_id": 3}, "/webhooks/0/manager_updated/3"),
])
def test_the_callback_url_names_the_record(make_site, name, ids, path):
    site = make_site(JOMRESKIT_BASE_URL="https://portal.example/")

    assert fired_url(site, name, **ids) == "https://portal.example/api" + path


def test_the_callback_url_follows_the_api_prefix(make_site):
    site = make_site(JOMRESKIT_BASE_URL="https://portal.example/booking",
                     JOMRESKIT_API_PREFIX="/rest/v1")

    assert fired_url(site, "booking_added", property_uid=1, contract_uid=41) == (
        "https://portal.example/booking/rest/v1/webhooks/1/booking_added/41")


def test_without_a_known_address_the_callback_url_is_the_sites_path(make_site, caplog):
    site = make_site()
    site.app.config["JOMRESKIT_BASE_URL"] = None

    url = fired_url(site, "booking_added", property_uid=1, contract_uid=41)

    assert url == "/api/webhooks/1/booking_added/41"  # the sending worker adds the address
    assert "callback_url" not in caplog.text


def test_the_callback_url_answers_the_record(callbacks):
    url = fired_url(callbacks.site, "booking_modified", property_uid=1, contract_uid=41)

    assert url == f"{callbacks.base}/api/webhooks/1/booking_modified/41"
    assert callbacks.record(url)["contract_uid"] == 41
