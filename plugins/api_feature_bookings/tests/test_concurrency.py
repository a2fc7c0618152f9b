"""Never a double booking: twenty clients booking the last free room for the same nights at the
same moment, each with its own API key and Idempotency-Key, through a served site: exactly one
gets the booking, and a loser's retry is answered its 409 again.

The guard is the database's, not a lock in the process: every night of every room is one row
of room_bookings, unique per (room_uid, date). On PostgreSQL the racing inserts wait for the
first to commit and then break the constraint; on SQLite writers take turns.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import requests
from jomreskit_api_core.testing import create_key, day, issue_token
from sqlalchemy import func, select

from jomreskit.domain import Contract, EventRecord, RoomBooking, services

CLIENTS = 20
ARRIVAL, DEPARTURE = 50, 53


def race(base: str, tokens: list[str], bodies: list[tuple[str, dict]]) -> list[requests.Response]:
    """Send each (path, body) at once, one per client and token, and collect the answers."""
    start = threading.Barrier(len(bodies))

    def send(n: int) -> requests.Response:
        path, body = bodies[n]
        with requests.Session() as http:  # connected before the barrier, sent after it
            http.headers["Authorization"] = f"Bearer {tokens[n]}"
            http.headers["Idempotency-Key"] = f"order-{n}"
            start.wait(timeout=30)
            return http.post(base + path, json=body, timeout=60)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, range(len(bodies))))


def test_twenty_clients_booking_the_last_free_room_get_one_booking(make_api_site, serve_app):
    site = make_api_site(JOMRESKIT_API_TOKEN_RATE_LIMIT="off")
    base = serve_app(site.app) + "/api"
    with site.app.app_context(), site.kit.transaction():
        # Rooms 1 and 3 are out of sale on those nights: room 2 is Fawlty Towers' last.
        services.close_nights(site.kit, 1, [1, 3], date.today() + timedelta(ARRIVAL),
                              date.today() + timedelta(DEPARTURE))
    tokens = [issue_token(site, *create_key(site, "manager", ["bookings_write"]))
              for _ in range(CLIENTS)]
    body = {"arrival": day(ARRIVAL), "departure": day(DEPARTURE), "room_uids": [2],
            "guest": {"surname": "Client"}}

    answers = race(base, tokens, [("/bookings/1", body)] * CLIENTS)

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * (CLIENTS - 1), [a.text for a in answers]
    refused = [a.json()["error"] for a in answers if a.status_code == 409]
    assert {error["code"] for error in refused} == {"room_unavailable"}
    assert all("room 2" in error["message"] or "same moment" in error["message"]
               for error in refused)
    [won] = [a.json()["data"] for a in answers if a.status_code == 201]
    # A loser retrying (the same key and body) is told the same, and books nothing.
    loser = next(n for n, a in enumerate(answers) if a.status_code == 409)
    retried = requests.post(f"{base}/bookings/1", json=body, timeout=30, headers={
        "Authorization": f"Bearer {tokens[loser]}", "Idempotency-Key": f"order-{loser}"})
    assert (retried.status_code, retried.headers.get("Idempotent-Replayed")) == (409, "true")
    assert retried.json() == answers[loser].json()
    with site.app.app_context():
        session = site.kit.session()
        nights = session.execute(select(RoomBooking.contract_uid, func.count()).where(
            RoomBooking.room_uid == 2).group_by(RoomBooking.contract_uid)).all()
        assert nights == [(won["contract_uid"], DEPARTURE - ARRIVAL)]
        added = session.scalars(select(EventRecord).where(
            EventRecord.name == "booking_added")).all()
        assert [e.ids["contract_uid"] for e in added if e.ids["contract_uid"] > 42] == [
            won["contract_uid"]]
        # Each refused booking left nothing behind: no contract, and no guest's event.
        assert session.scalar(select(func.count()).select_from(Contract).where(
            Contract.blackbooking.is_(False), Contract.contract_uid > 42)) == 1
        guests_saved = session.scalars(select(EventRecord.ids).where(
            EventRecord.name == "guest_saved")).all()
        assert [ids["guest_uid"] for ids in guests_saved if ids["guest_uid"] > 2] == [
            won["guest"]["guest_uid"]]  # the demo's guests are 1 and 2
