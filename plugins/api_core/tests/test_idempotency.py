"""Idempotency-Key on API writes: a retry gets the first answer and changes nothing twice."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from jomreskit_api_core.models import IdempotentRequest
from jomreskit_api_core.testing import auth, bearer_token, restart
from sqlalchemy import func, select, update

from jomreskit.db import utcnow
from jomreskit.domain import ContractNote, EventRecord

WRITES_PLUGIN = Path(__file__).with_name("writes_plugin.py")
NOTES = "/bookings/1/41/notes"
SCOPES = ["notes_write", "guests_get", "guests_write"]


@pytest.fixture
def served(make_api_site, serve_app):
    site = make_api_site(plugins=[WRITES_PLUGIN])
    return site, serve_app(site.app) + "/api", auth(bearer_token(site, "manager", SCOPES))


def count(site, model) -> int:
    with site.app.app_context():
        try:
            return site.kit.session().scalar(select(func.count()).select_from(model))
        finally:
            site.kit.session.remove()


KEYS = IdempotentRequest


def keyed(headers: dict, key: str) -> dict:
    return {**headers, "Idempotency-Key": key}


def test_a_retry_gets_the_first_answer_and_writes_nothing_again(served):
    site, url, headers = served
    key = str(uuid.uuid4())

    first = requests.post(url + NOTES, json={"text": "Late arrival"}, headers=keyed(headers, key))
    notes, events = count(site, ContractNote), count(site, EventRecord)
    again = requests.post(url + NOTES, json={"text": "Late arrival"}, headers=keyed(headers, key))

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert (count(site, ContractNote), count(site, EventRecord)) == (notes, events)


def test_the_same_key_for_another_request_is_a_422(served):
    site, url, headers = served
    key = str(uuid.uuid4())
    requests.post(url + NOTES, json={"text": "Late arrival"}, headers=keyed(headers, key))
    notes = count(site, ContractNote)

    other_body = requests.post(url + NOTES, json={"text": "Early"}, headers=keyed(headers, key))
    other_path = requests.post(url + "/bookings/1/41/notes?x=1", json={"text": "Late arrival"},
                               headers=keyed(headers, key))

    for response in (other_body, other_path):
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "idempotency_key_reused"
        assert response.json()["error"]["field"] == "Idempotency-Key"
    assert count(site, ContractNote) == notes


def test_a_retry_whose_json_is_spelt_otherwise_is_the_same_request(served):
    site, url, headers = served
    key = str(uuid.uuid4())
    sent = {**keyed(headers, key), "Content-Type": "application/json"}
    first = requests.post(url + NOTES, data='{"text": "Late arrival", "attempt": 1}',
                          headers=sent)
    notes = count(site, ContractNote)

    # Re-serialised by another JSON library: no spaces, keys in another order.
    again = requests.post(url + NOTES, data='{"attempt":1,"text":"Late arrival"}',
                          headers=sent)

    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(site, ContractNote) == notes


def test_keys_belong_to_their_api_key(served):
    site, url, headers = served
    other = auth(bearer_token(site, "manager", SCOPES))
    notes = count(site, ContractNote)

    first = requests.post(url + NOTES, json={"text": "a"}, headers=keyed(headers, "same-key"))
    second = requests.post(url + NOTES, json={"text": "a"}, headers=keyed(other, "same-key"))

    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert count(site, ContractNote) == notes + 2


def test_a_client_error_is_kept_and_replayed(served):
    site, url, headers = served
    key = str(uuid.uuid4())
    body = {"text": "Late arrival", "then": "refuse"}  # written, then refused: rolled back

    first = requests.post(url + NOTES, json=body, headers=keyed(headers, key))
    again = requests.post(url + NOTES, json=body, headers=keyed(headers, key))

    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(site, KEYS) == 1


def test_a_conflict_met_at_the_commit_is_kept_too(served):
    _, url, headers = served
    night = {"date": "2031-01-01"}
    assert requests.post(url + "/rooms/1/3/closed-nights", json=night,
                         headers=headers).status_code == 200

    first = requests.post(url + "/rooms/1/3/closed-nights", json=night,
                          headers=keyed(headers, "k1"))
    again = requests.post(url + "/rooms/1/3/closed-nights", json=night,
                          headers=keyed(headers, "k1"))

    assert first.status_code == again.status_code == 409
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_server_error_is_not_kept_so_a_retry_runs_again(served):
    site, url, headers = served
    key = str(uuid.uuid4())
    body = {"text": "Late arrival", "then": "crash_once", "attempt": key}
    notes = count(site, ContractNote)

    first = requests.post(url + NOTES, json=body, headers=keyed(headers, key))
    assert first.status_code == 500
    assert count(site, KEYS) == 0  # the key exists only if the write committed
    again = requests.post(url + NOTES, json=body, headers=keyed(headers, key))

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert count(site, ContractNote) == notes + 1


def test_the_etag_of_a_change_is_replayed_with_it(served):
    _, url, headers = served

    first = requests.put(url + "/guests/1/1", json={"firstname": "Sybil"},
                         headers=keyed(headers, "put-1"))
    again = requests.put(url + "/guests/1/1", json={"firstname": "Sybil"},
                         headers=keyed(headers, "put-1"))

    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_a_key_that_is_not_1_to_255_printable_ascii_characters_is_a_422(served, key):
    site, url, headers = served
    notes = count(site, ContractNote)

    response = requests.post(url + NOTES, json={"text": "a"},
                             headers=keyed(headers, key.encode("utf-8").decode("latin-1")))

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert count(site, ContractNote) == notes


def test_a_key_of_255_characters_is_fine(served):
    _, url, headers = served

    response = requests.post(url + NOTES, json={"text": "a"}, headers=keyed(headers, "k" * 255))

    assert response.status_code == 201


def test_reads_ignore_the_header(served):
    _, url, headers = served

    response = requests.get(url + "/guests/1/1", headers=keyed(headers, "x" * 300))

    assert response.status_code == 200


def age_keys(site, by: timedelta) -> None:
    """Make every stored key ``by`` older, as if that time had passed."""
    with site.app.app_context(), site.kit.transaction() as session:
        session.execute(update(IdempotentRequest).values(created_at=utcnow() - by))
    site.kit.session.remove()


def test_a_key_older_than_its_lifetime_may_be_used_again(served):
    site, url, headers = served
    requests.post(url + NOTES, json={"text": "first"}, headers=keyed(headers, "reused"))
    age_keys(site, timedelta(hours=25))

    response = requests.post(url + NOTES, json={"text": "another"},
                             headers=keyed(headers, "reused"))

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert response.json()["data"]["text"] == "another"


def test_the_lifetime_is_a_setting(make_api_site, serve_app):
    site = make_api_site(plugins=[WRITES_PLUGIN], JOMRESKIT_API_IDEMPOTENCY_TTL=60)
    url, headers = serve_app(site.app) + "/api", auth(bearer_token(site, "manager", SCOPES))
    requests.post(url + NOTES, json={"text": "first"}, headers=keyed(headers, "short"))
    age_keys(site, timedelta(seconds=61))

    response = requests.post(url + NOTES, json={"text": "another"},
                             headers=keyed(headers, "short"))

    assert "Idempotent-Replayed" not in response.headers


def test_expired_keys_are_deleted(served, serve_app):
    site, url, headers = served
    for number in range(3):
        requests.post(url + NOTES, json={"text": "x"}, headers=keyed(headers, f"old-{number}"))
    age_keys(site, timedelta(hours=25))
    restarted = restart(site)  # a process that has not purged yet
    url = serve_app(restarted.app) + "/api"

    requests.post(url + NOTES, json={"text": "x"}, headers=keyed(headers, "new"))

    assert count(site, KEYS) == 1


def test_concurrent_requests_with_one_key_write_once(served):
    site, url, headers = served
    notes, events = count(site, ContractNote), count(site, EventRecord)
    key = str(uuid.uuid4())
    start = threading.Barrier(10)
    answers: list[requests.Response] = []

    def send() -> None:
        with requests.Session() as http:
            start.wait()
            answers.append(http.post(url + NOTES, json={"text": "At once"},
                                     headers=keyed(headers, key)))

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # The others waited for the first to commit and got its answer (or, had they found it
    # still running, a 409 in use): never a second note.
    assert (count(site, ContractNote), count(site, EventRecord)) == (notes + 1, events + 1)
    written = [a for a in answers if "Idempotent-Replayed" not in a.headers]
    assert [a.status_code for a in written] == [201]
    for answer in answers:
        assert answer.status_code in (201, 409)
        if answer.status_code == 201:
            assert answer.json() == written[0].json()
        else:
            assert answer.json()["error"]["code"] == "idempotency_key_in_use"
