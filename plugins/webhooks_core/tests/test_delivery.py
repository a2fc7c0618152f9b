"""Events become signed POSTs to managers' webhooks, sent by a worker after the commit."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from jomreskit_webhooks_core.models import Delivery, Webhook
from sqlalchemy import func, select, update
from standardwebhooks import Webhook as StandardWebhook

from jomreskit.db import utcnow
from jomreskit.domain import ManagerProperty, User
from jomreskit.domain import services as domain


def create(site, url, *args):
    result = site.cli("webhooks", "create", "--manager", "manager", "--url", url, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def drain(site):
    result = site.cli("worker", "--drain", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def fire(site, event="booking_modified", **ids):
    ids = ids or {"property_uid": 1, "contract_uid": 41}
    with site.app.app_context(), site.kit.transaction():
        return site.kit.fire(event, **ids)


def deliveries(site):
    with site.app.app_context(), site.kit.transaction() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_a_fired_event_arrives_signed_and_verifiable_with_standardwebhooks(site, receiver):
    webhook = create(site, receiver.url + "/hook")
    assert webhook["secret"].startswith("whsec_")

    event = fire(site)
    assert receiver.deliveries == []  # nothing is sent from inside the firing transaction
    assert drain(site) == {"attempts": 1, "succeeded": 1, "retrying": 0, "failed": 0}

    [got] = receiver.deliveries
    assert got.headers["Content-Type"] == "application/json"
    payload = StandardWebhook(webhook["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "booking_modified"
    assert payload["data"] == {"property_uid": 1, "contract_uid": 41, "manager_id": 1,
                               "task": "booking_modified"}
    assert payload["timestamp"].startswith(event.timestamp.strftime("%Y-%m-%dT%H:%M:%S"))
    assert "callback_url" in payload
    assert got.headers["Webhook-Id"].startswith("msg_")
    assert "Authorization" not in got.headers  # auth method none, as in Jomres


def test_a_change_written_through_the_api_names_the_writing_key(site, receiver):
    # api_core sets the origin around API writes; the core's own way to, here, keeps
    # webhooks_core's test free of the API.
    webhook = create(site, receiver.url + "/hook")
    with site.app.app_context(), site.kit.transaction(), site.kit.origin("cm_client_1"):
        domain.save_note(site.kit, 41, "Late arrival, from the channel manager")
    fire(site)  # a change made on the site, after it
    drain(site)

    bodies = {got.json()["type"]: got for got in receiver.wait_for(2)}
    written = StandardWebhook(webhook["secret"]).verify(
        bodies["booking_note_saved"].body, bodies["booking_note_saved"].headers)
    assert written["data"]["origin"] == {"client_id": "cm_client_1"}
    assert b'"origin"' not in bodies["booking_modified"].body  # as every notification was


def test_the_webhook_id_stays_the_same_across_retries(site, receiver):
    webhook = create(site, receiver.url + "/hook")
    receiver.answer(500, "try later")
    fire(site)
    assert drain(site)["retrying"] == 1
    _now_due(site)
    assert drain(site)["succeeded"] == 1

    first, second = receiver.deliveries
    assert first.headers["Webhook-Id"] == second.headers["Webhook-Id"]
    assert first.body == second.body
    StandardWebhook(webhook["secret"]).verify(second.body, second.headers)


def test_a_transaction_that_rolls_back_sends_nothing(site, receiver):
    create(site, receiver.url + "/hook")
    with site.app.app_context(), pytest.raises(RuntimeError):
        with site.kit.transaction():
            site.kit.fire("booking_modified", property_uid=1, contract_uid=41)
            raise RuntimeError("the booking could not be saved")

    assert deliveries(site) == []
    assert drain(site)["attempts"] == 0
    assert receiver.deliveries == []


def test_a_domain_change_queues_a_delivery_in_its_own_transaction(site, receiver):
    create(site, receiver.url + "/hook")
    with site.app.app_context(), site.kit.transaction():
        domain.save_note(site.kit, 41, "Mrs Richards wants a room with a view")
    drain(site)

    [got] = receiver.deliveries
    assert got.json()["type"] == "booking_note_saved"
    assert set(got.json()["data"]) == {"property_uid", "contract_uid", "note_id", "manager_id",
                                       "task"}


def test_events_go_only_to_managers_of_the_property(site, receiver):
    create(site, receiver.url + "/manager")
    other = site.cli("webhooks", "create", "--manager", "manager2", "--url",
                     receiver.url + "/manager2", "--json")
    assert other.exit_code == 0, other.output

    fire(site)
    drain(site)
    assert [r.path for r in receiver.deliveries] == ["/manager"]


def test_event_and_property_filters_choose_what_is_sent(site, receiver):
    create(site, receiver.url + "/cancellations", "--event", "booking_cancelled")
    create(site, receiver.url + "/best-west", "--property", "2")
    create(site, receiver.url + "/everything")

    fire(site, "booking_modified", property_uid=1, contract_uid=41)
    fire(site, "booking_cancelled", property_uid=1, contract_uid=41)
    fire(site, "property_updated", property_uid=2)
    drain(site)

    sent = sorted((r.path, r.json()["type"]) for r in receiver.deliveries)
    assert sent == [
        ("/best-west", "property_updated"),
        ("/cancellations", "booking_cancelled"),
        ("/everything", "booking_cancelled"),
        ("/everything", "booking_modified"),
        ("/everything", "property_updated"),
    ]


def test_an_event_reaches_a_manager_linked_earlier_in_its_transaction(site, receiver):
    result = site.cli("webhooks", "create", "--manager", "manager2", "--url",
                      receiver.url + "/manager2", "--json")
    assert result.exit_code == 0, result.output
    with site.app.app_context(), site.kit.transaction() as session:
        manager2 = session.scalar(select(User).where(User.username == "manager2"))
        with session.no_autoflush:  # the event alone must write the pending link first
            session.add(ManagerProperty(manager_id=manager2.manager_id, property_uid=1))
            site.kit.fire("property_updated", property_uid=1)
    drain(site)
    assert [r.path for r in receiver.deliveries] == ["/manager2"]


def test_manager_events_go_to_that_managers_own_webhooks(site, receiver):
    create(site, receiver.url + "/manager")
    other = site.cli("webhooks", "create", "--manager", "manager2", "--url",
                     receiver.url + "/manager2", "--json")
    manager2 = json.loads(other.output)["manager_id"]

    fire(site, "manager_updated", manager_id=manager2)
    drain(site)

    [got] = receiver.deliveries
    assert got.path == "/manager2"
    assert got.json()["data"] == {"manager_id": manager2, "task": "manager_updated"}


def test_a_disabled_webhook_gets_nothing(site, receiver):
    webhook = create(site, receiver.url + "/hook", "--disabled")
    fire(site)
    drain(site)
    assert receiver.deliveries == []
    assert site.cli("webhooks", "update", str(webhook["id"]), "--enable").exit_code == 0
    fire(site)
    drain(site)
    assert len(receiver.deliveries) == 1


def test_a_super_manager_cannot_have_a_webhook(site, receiver):
    result = site.cli("webhooks", "create", "--manager", "super", "--url", receiver.url)
    assert result.exit_code != 0
    assert "super managers cannot have webhooks" in result.output


def test_rotating_the_secret_signs_with_the_new_one(site, receiver):
    webhook = create(site, receiver.url + "/hook")
    rotated = site.cli("webhooks", "rotate-secret", str(webhook["id"]), "--json")
    new_secret = json.loads(rotated.output)["secret"]
    assert new_secret != webhook["secret"]

    fire(site)
    drain(site)
    [got] = receiver.deliveries
    StandardWebhook(new_secret).verify(got.body, got.headers)
    with pytest.raises(Exception, match="signature"):
        StandardWebhook(webhook["secret"]).verify(got.body, got.headers)


def test_the_signing_secret_is_stored_encrypted(site, receiver):
    webhook = create(site, receiver.url + "/hook")
    with site.app.app_context(), site.kit.transaction() as session:
        stored = session.scalar(select(Webhook.signing_secret))
    assert webhook["secret"] not in stored
    assert "secret" not in json.loads(site.cli("webhooks", "list", "--json").output)[0]


def _now_due(site):
    """Let time pass: every pending delivery is due now."""
    with site.app.app_context(), site.kit.transaction() as session:
        session.execute(update(Delivery).where(Delivery.status == "pending")
                        .values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def test_the_outbox_writes_one_row_per_matching_webhook(site, receiver):
    for n in range(10):
        create(site, f"{receiver.url}/hook{n}")
    fire(site)
    with site.app.app_context(), site.kit.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 10
