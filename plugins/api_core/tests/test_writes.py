"""API writes: one transaction each, JSON bodies, errors that name the field, conflicts and a
busy database answered as such, and ETag / If-Match against lost updates."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from jomreskit_api_core import etag_of
from jomreskit_api_core.testing import auth, bearer_token, create_key, issue_token
from sqlalchemy import event, func, select, text

from jomreskit.domain import ContractNote, EventRecord, Guest

WRITES_PLUGIN = Path(__file__).with_name("writes_plugin.py")
NOTES = "/bookings/1/41/notes"


@pytest.fixture
def served(make_api_site, serve_app, site_mode):
    site = make_api_site(plugins=[WRITES_PLUGIN], mode=site_mode)
    token = bearer_token(site, "manager", ["notes_write", "guests_get", "guests_write"])
    return site, serve_app(site.app) + "/api", auth(token)


def count(site, model) -> int:
    with site.app.app_context():
        try:
            return site.kit.session().scalar(select(func.count()).select_from(model))
        finally:
            site.kit.session.remove()


def error_of(response) -> dict:
    assert response.headers["Content-Type"] == "application/json"
    return response.json()["error"]


# -- one transaction -----------------------------------------------------------------------


def test_a_write_commits_its_change_and_its_event(served):
    site, url, headers = served
    notes, events = count(site, ContractNote), count(site, EventRecord)

    response = requests.post(url + NOTES, json={"text": "Late arrival"}, headers=headers)

    assert response.status_code == 201
    note_id = response.json()["data"]["note_id"]
    assert response.headers["Location"] == f"/api{NOTES}/{note_id}"
    assert (count(site, ContractNote), count(site, EventRecord)) == (notes + 1, events + 1)


@pytest.mark.parametrize("then, status", [("refuse", 422), ("crash", 500), ("nested", 422),
                                          ("answer_error", 418)])
def test_a_write_that_fails_after_changing_something_leaves_nothing(served, then, status):
    site, url, headers = served
    notes, events = count(site, ContractNote), count(site, EventRecord)

    response = requests.post(url + NOTES, json={"text": "Late arrival", "then": then},
                             headers=headers)

    assert response.status_code == status
    assert "ink" not in response.text
    # Neither the note nor its booking_note_saved event (nor so any notification of it).
    assert (count(site, ContractNote), count(site, EventRecord)) == (notes, events)


def test_a_unique_key_taken_is_a_409_conflict_not_a_500(served):
    site, url, headers = served
    night = {"date": (date.today() + timedelta(days=200)).isoformat()}

    first = requests.post(url + "/rooms/1/2/closed-nights", json=night, headers=headers)
    again = requests.post(url + "/rooms/1/2/closed-nights", json=night, headers=headers)

    assert first.status_code == 200
    assert again.status_code == 409
    assert error_of(again)["code"] == "conflict"
    assert "uq_room_bookings" not in again.text and "UNIQUE" not in again.text


def _short_lock_waits(site) -> None:
    """Make the site's connections give up waiting for a lock after 0.3 s (not 30 s)."""
    engine = site.kit.engine
    engine.dispose()

    @event.listens_for(engine, "connect")
    def _wait_less(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA busy_timeout = 300")
        else:
            cursor.execute("SET lock_timeout = '300ms'")
            dbapi_connection.commit()  # the driver began a transaction for it
        cursor.close()


def test_a_write_kept_waiting_by_other_writers_is_a_503_busy_with_retry_after(served):
    site, url, headers = served
    _short_lock_waits(site)
    holding, release = threading.Event(), threading.Event()

    def other_writer():
        # Another process's long write: the write lock (SQLite), the guests table (PostgreSQL).
        with site.kit.engine.connect() as connection:
            if site.kit.engine.dialect.name == "sqlite":
                # A write: on a host's engine the driver begins a transaction for it.
                connection.execute(text("UPDATE guests SET firstname = firstname WHERE 0"))
            else:
                connection.execute(text("LOCK TABLE guests IN EXCLUSIVE MODE"))
            holding.set()
            release.wait(10)
            connection.rollback()

    thread = threading.Thread(target=other_writer)
    thread.start()
    try:
        assert holding.wait(10)
        response = requests.put(url + "/guests/1/1", json={"firstname": "Sybil"},
                                headers=headers)
    finally:
        release.set()
        thread.join()

    assert response.status_code == 503
    assert error_of(response)["code"] == "busy"
    assert response.headers["Retry-After"] == "1"
    retried = requests.put(url + "/guests/1/1", json={"firstname": "Sybil"}, headers=headers)
    assert retried.status_code == 200


# -- JSON bodies and the field at fault ----------------------------------------------------


@pytest.mark.parametrize("body, says", [
    (b"", "needs a JSON object"),
    (b'{"text": "Late",}', "line 1 column 17"),
    (b'{"text":\n  "Late" "arrival"}', "line 2 column 10"),
    (b'["text"]', "not an array"),
    (b'"text"', "not a string"),
    (b'{"text": NaN}', "NaN is not a JSON value"),
    (b'{"text": "a", "text": "b"}', "'text' is given twice"),
    (b'{"text": "\xff"}', "not UTF-8"),
    ('{"text": "Late"}'.encode("utf-16"), "not UTF-8"),  # json.loads alone would take these
    ('{"text": "Late"}'.encode("utf-32"), "not UTF-8"),
    ('{"text": "Late"}'.encode("utf-16-le"), "line 1 column 2"),
    (b'{"\\ud800": 1}', "lone surrogate"),
    (b'{"text": "Late \\udc00"}', "lone surrogate"),
    (b"[" * 100_000, "too large or too deeply nested"),
])
def test_a_body_that_is_not_a_json_object_is_a_422_saying_where(served, body, says):
    site, url, headers = served
    notes = count(site, ContractNote)

    response = requests.post(url + NOTES, data=body,
                             headers={**headers, "Content-Type": "application/json"})

    assert response.status_code == 422
    assert error_of(response)["code"] in ("invalid_json", "invalid_member", "invalid_text")
    assert says in error_of(response)["message"]
    assert count(site, ContractNote) == notes


def test_a_validation_error_names_its_field(served):
    _, url, headers = served

    missing = requests.post(url + NOTES, json={"text": "  "}, headers=headers)
    wrong = requests.put(url + "/guests/1/1", json={"email": 7}, headers=headers)
    duplicated = requests.post(url + NOTES, data='{"text": "a", "text": "b"}', headers=headers)

    assert error_of(missing) == {"code": "invalid_text", "message": "text: a note needs some text",
                                 "field": "text"}
    assert (wrong.status_code, error_of(wrong)["field"]) == (422, "email")
    assert error_of(duplicated)["field"] == "text"


def test_errors_about_no_field_have_no_field_member(served):
    _, url, headers = served

    response = requests.post(url + "/bookings/1/42/notes", json={"text": "x"}, headers=headers)

    assert response.status_code == 404
    assert set(error_of(response)) == {"code", "message"}


# -- ETag and If-Match ---------------------------------------------------------------------


def test_a_read_carries_the_etag_of_its_data(served):
    _, url, headers = served

    response = requests.get(url + "/guests/1/1", headers=headers)

    etag = response.headers["ETag"]
    assert etag == etag_of(response.json()["data"])
    assert etag.startswith('"')  # strong: not W/"..."
    assert requests.get(url + "/guests/1/1", headers=headers).headers["ETag"] == etag


def test_a_change_with_the_current_etag_goes_ahead_and_answers_the_new_one(served):
    _, url, headers = served
    etag = requests.get(url + "/guests/1/1", headers=headers).headers["ETag"]

    response = requests.put(url + "/guests/1/1", json={"firstname": "Sybil"},
                            headers={**headers, "If-Match": etag})

    assert response.status_code == 200
    assert response.json()["data"]["firstname"] == "Sybil"
    assert response.headers["ETag"] not in (etag, None)
    assert response.headers["ETag"] == requests.get(url + "/guests/1/1",
                                                    headers=headers).headers["ETag"]


def test_a_change_with_a_stale_etag_is_a_412_and_changes_nothing(served):
    site, url, headers = served
    stale = requests.get(url + "/guests/1/1", headers=headers).headers["ETag"]
    requests.put(url + "/guests/1/1", json={"surname": "Fawlty"}, headers=headers)  # another's
    events = count(site, EventRecord)

    response = requests.put(url + "/guests/1/1", json={"firstname": "Sybil"},
                            headers={**headers, "If-Match": stale})

    assert response.status_code == 412
    assert error_of(response)["code"] == "precondition_failed"
    assert "read it again" in error_of(response)["message"]
    current = requests.get(url + "/guests/1/1", headers=headers)
    assert response.headers["ETag"] == current.headers["ETag"]
    assert current.json()["data"]["firstname"] == "Agatha"
    assert count(site, EventRecord) == events


@pytest.mark.parametrize("if_match, status", [
    ("*", 200),
    ("CURRENT", 200),
    ('"0000", CURRENT', 200),
    ("W/CURRENT", 412),  # weak tags never match If-Match
    ('"0000"', 412),
    ("rubbish", 412),
])
def test_if_match_forms(served, if_match, status):
    _, url, headers = served
    current = requests.get(url + "/guests/1/1", headers=headers).headers["ETag"]

    response = requests.put(url + "/guests/1/1", json={"firstname": "Basil"},
                            headers={**headers, "If-Match": if_match.replace("CURRENT", current)})

    assert response.status_code == status, response.text


def test_a_change_without_if_match_goes_ahead(served):
    site, url, headers = served

    response = requests.put(url + "/guests/1/1", json={"firstname": "Polly"}, headers=headers)

    assert response.status_code == 200
    with site.app.app_context():
        assert site.kit.session().get(Guest, 1).firstname == "Polly"
        site.kit.session.remove()


# -- whose change --------------------------------------------------------------------------


def newest_event(site) -> EventRecord:
    with site.app.app_context():
        try:
            return site.kit.session().scalars(
                select(EventRecord).order_by(EventRecord.id.desc()).limit(1)).one()
        finally:
            site.kit.session.remove()


def test_the_events_of_a_write_are_marked_with_the_writing_keys_client_id(served):
    site, url, _ = served
    client_id, secret = create_key(site, "manager", ["notes_write"])

    response = requests.post(url + NOTES, json={"text": "From the channel manager"},
                             headers=auth(issue_token(site, client_id, secret)))

    assert response.status_code == 201
    event = newest_event(site)
    assert (event.name, event.ids["note_id"]) == ("booking_note_saved",
                                                  response.json()["data"]["note_id"])
    assert event.origin == client_id


def test_the_events_of_a_change_on_the_site_have_no_origin(served):
    site, url, headers = served
    requests.post(url + NOTES, json={"text": "through the API first"}, headers=headers)

    with site.app.app_context(), site.kit.transaction():
        site.kit.fire("booking_modified", property_uid=1, contract_uid=41)

    assert newest_event(site).origin is None  # the API write's mark did not linger


# -- the OpenAPI document -------------------------------------------------------------------


def test_the_openapi_document_describes_what_writes_take_and_answer(served):
    _, url, _ = served
    document = requests.get(url + "/openapi.json").json()
    change = document["paths"]["/guests/{property_uid}/{guest_uid}"]["put"]
    read = document["paths"]["/guests/{property_uid}/{guest_uid}"]["get"]
    add = document["paths"]["/bookings/{property_uid}/{contract_uid}/notes"]["post"]

    headers = {p["name"] for p in change["parameters"] if p["in"] == "header"}
    assert headers == {"Idempotency-Key", "If-Match"}
    assert {p["name"] for p in add["parameters"] if p["in"] == "header"} == {"Idempotency-Key"}
    assert not [p for p in read["parameters"] if p["in"] == "header"]
    assert {"409", "412", "503"} <= set(change["responses"])
    assert {"409", "503"} <= set(add["responses"]) and "412" not in add["responses"]
    assert "ETag" in read["responses"]["200"]["headers"]
    error = document["components"]["schemas"]["Error"]["properties"]["error"]
    assert "field" in error["properties"] and "field" not in error["required"]
