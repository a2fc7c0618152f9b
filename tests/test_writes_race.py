"""A booking racing a close of the same nights, through a served site with both writing plugins:
ten clients book room 2 and ten close it for the same nights at the same moment. Exactly one
request takes the nights; every other booking and close gets 409 ``room_unavailable``, except a
close that comes after a winning close, which finds the nights closed and closes nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import requests
from jomreskit_api_core.testing import create_key, issue_token
from sqlalchemy import select

from jomreskit.domain import RoomBooking

CLIENTS = 20
ARRIVAL, DEPARTURE = date.today() + timedelta(50), date.today() + timedelta(80)


def test_a_booking_racing_a_close_of_the_same_nights_leaves_one_of_them(make_api_site,
                                                                          serve_app):
    site = make_api_site(JOMRESKIT_API_TOKEN_RATE_LIMIT="off")
    base = serve_app(site.app) + "/api"
    nights = {"arrival": ARRIVAL.isoformat(), "departure": DEPARTURE.isoformat(),
              "room_uids": [2]}
    requests_ = [("/bookings/1", {**nights, "guest": {"surname": "Booker"}}),
                 ("/availability/1/close", nights)] * (CLIENTS // 2)
    tokens = [issue_token(site, *create_key(site, "manager", [
        "bookings_write" if path.startswith("/bookings") else "availability_write"]))
        for path, _ in requests_]
    start = threading.Barrier(CLIENTS)

    def send(n: int) -> tuple[str, requests.Response]:
        path, body = requests_[n]
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {tokens[n]}"
            start.wait(timeout=30)
            return path, http.post(base + path, json=body, timeout=60)

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(send, range(CLIENTS)))

    took = [(path, a.json()["data"]) for path, a in answers if a.status_code in (200, 201) and (
        path.startswith("/bookings") or a.json()["data"]["blackbookings"])]
    assert len(took) == 1, [(path, a.status_code, a.text) for path, a in answers]
    [(won_by, winner)] = took
    booked = won_by.startswith("/bookings")
    contract_uid = winner["contract_uid"] if booked else winner["blackbookings"][0]["contract_uid"]
    for _path, answer in answers:
        if answer.status_code in (200, 201):
            continue
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"]["code"] == "room_unavailable"
    if booked:  # after a booking no close succeeds, not even one closing nothing
        assert sum(a.status_code < 300 for _path, a in answers) == 1
    with site.app.app_context():
        holders = site.kit.session().scalars(select(RoomBooking.contract_uid).where(
            RoomBooking.room_uid == 2, RoomBooking.date >= ARRIVAL,
            RoomBooking.date < DEPARTURE)).all()
    assert holders == [contract_uid] * (DEPARTURE - ARRIVAL).days
