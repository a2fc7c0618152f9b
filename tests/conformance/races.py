"""What each write route must keep true when many clients send it at the same moment.

Every write route of the API (``Route.writes`` in api_core's route table) has an entry here,
keyed by its method and rule: the races to run on it (N identical requests, N overlapping ones),
what each answer may be, and the route's own invariant checked afterwards on the database. A
route that cannot be raced this way is in ``OPTED_OUT`` with the reason. test_races.py fails
for a write route that is in neither, so a new route gets the same proof or says why not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from jomreskit_api_feature_availability import restrictions
from jomreskit_api_feature_availability.models import Restriction
from sqlalchemy import func, select

from jomreskit.domain import Contract, EventRecord, RoomBooking, Tariff, services

CLIENTS = 20


def day(n: int) -> date:
    return date.today() + timedelta(days=n)


@dataclass(frozen=True)
class Sent:
    """One client's request: its path (under the API prefix), JSON body and headers; the
    method is the route's unless given."""

    path: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str | None = None


@dataclass(frozen=True)
class Answer:
    """What client ``n`` got back."""

    n: int
    sent: Sent
    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def code(self) -> str | None:
        return (self.body.get("error") or {}).get("code") if isinstance(self.body, dict) else None

    @property
    def data(self) -> Any:
        return self.body["data"]


@dataclass(frozen=True)
class Race:
    """``CLIENTS`` requests to one route at once (client ``n`` sends ``send(world, n)``), what
    each may answer (status, error code or None), and the invariant that holds afterwards.

    ``arrange(site)`` builds the world before the race (in the site's app context and a
    transaction) and returns what ``send`` and ``check`` need to know of it.
    """

    name: str
    scopes: tuple[str, ...]
    send: Callable[[Any, int], Sent]
    answers: frozenset[tuple[int, str | None]]
    check: Callable[[Any, Any, list[Answer]], None]  # (site, world, answers)
    arrange: Callable[[Any], Any] = lambda site: None
    # Then, over HTTP: (world, get(path, params) -> JSON) -> the world the race is run in.
    prepare: Callable[[Any, Callable[[str, dict[str, str]], Any]], Any] | None = None


def ok(*statuses: int) -> frozenset[tuple[int, str | None]]:
    return frozenset((status, None) for status in statuses)


def refused(status: int, *codes: str) -> frozenset[tuple[int, str | None]]:
    return frozenset((status, code) for code in codes)


def last_event_id(site: Any) -> int:
    return site.kit.session().scalar(select(func.max(EventRecord.id))) or 0


def events_since(site: Any, first_id: int, name: str) -> list[dict[str, Any]]:
    return list(site.kit.session().scalars(select(EventRecord.ids).where(
        EventRecord.id > first_id, EventRecord.name == name).order_by(EventRecord.id)))


# -- rates: one night, one price ----------------------------------------------------------

RATES_FIRST, RATES_LAST = 1, 60  # the seeded rate: Double at 70.00 on nights 1 to 60


def seed_rate(site: Any) -> None:
    services.set_rates(site.kit, 1, "Double", day(RATES_FIRST), day(RATES_LAST), Decimal(70))


def prices_by_night(site: Any) -> dict[date, list[Decimal]]:
    nights: dict[date, list[Decimal]] = {}
    for tariff in site.kit.session().scalars(select(Tariff).where(
            Tariff.property_uid == 1, Tariff.room_type == "Double")):
        night = tariff.valid_from
        while night <= tariff.valid_to:
            nights.setdefault(night, []).append(Decimal(tariff.price_per_night))
            night += timedelta(days=1)
    return nights


def one_price_per_night(site: Any, answers: list[Answer]) -> dict[date, Decimal]:
    """Every night of the seeded range has exactly one price, and no night any more than one,
    in the database and in each answer's list of rates."""
    nights = prices_by_night(site)
    crowded = {n.isoformat(): p for n, p in nights.items() if len(p) > 1}
    assert not crowded, f"nights with more than one price: {crowded}"
    missing = [day(n) for n in range(RATES_FIRST, RATES_LAST + 1) if day(n) not in nights]
    assert not missing, f"nights left with no price: {missing}"
    for answer in answers:
        covered = Counter(r["valid_from"] for r in answer.data["rates"])
        assert max(covered.values()) == 1, answer.data
    return {night: prices[0] for night, prices in nights.items()}


def rates_identical_check(site: Any, _world: Any, answers: list[Answer]) -> None:
    one_price_per_night(site, answers)
    tariffs = site.kit.session().execute(select(
        Tariff.valid_from, Tariff.valid_to, Tariff.price_per_night).where(
        Tariff.property_uid == 1, Tariff.room_type == "Double").order_by(Tariff.valid_from)).all()
    assert [(f, t, Decimal(p)) for f, t, p in tariffs] == [
        (day(1), day(19), Decimal(70)), (day(20), day(29), Decimal(80)),
        (day(30), day(60), Decimal(70))]


def overlapping_rate(n: int) -> tuple[int, int, Decimal]:
    return 5 + 2 * n, 5 + 2 * n + 9, Decimal(100 + n)


def rates_overlapping_check(site: Any, _world: Any, answers: list[Answer]) -> None:
    prices = one_price_per_night(site, answers)
    for night, price in prices.items():
        could_be = {Decimal(70)} | {p for f, t, p in map(overlapping_rate, range(CLIENTS))
                                    if day(f) <= night <= day(t)}
        assert price in could_be, (night, price)


# -- availability: one room-night, one booking -------------------------------------------


def holders(site: Any, room_uid: int, first: int, last: int) -> dict[date, list[int]]:
    """Each night from ``first`` to ``last`` (days from today) -> the contracts holding it."""
    held: dict[date, list[int]] = {day(n): [] for n in range(first, last + 1)}
    for night, contract_uid in site.kit.session().execute(select(
            RoomBooking.date, RoomBooking.contract_uid).where(
            RoomBooking.room_uid == room_uid, RoomBooking.date >= day(first),
            RoomBooking.date <= day(last))):
        held[night].append(contract_uid)
    return held


def contracts_hold_their_nights(site: Any) -> None:
    """Every contract holds exactly its rooms for each of its nights; a cancelled one none."""
    session = site.kit.session()
    for contract in session.scalars(select(Contract)):
        rows = {(rb.room_uid, rb.date) for rb in contract.room_bookings}
        if contract.status == "cancelled":
            assert not rows, contract.contract_uid
            continue
        nights = [contract.arrival + timedelta(n)
                  for n in range((contract.departure - contract.arrival).days)]
        rooms = {room_uid for room_uid, _ in rows}
        assert rows == {(r, n) for r in rooms for n in nights}, contract.contract_uid


def close_body(first: int, last_night: int, rooms: list[int]) -> dict[str, Any]:
    return {"room_uids": rooms, "arrival": day(first).isoformat(),
            "departure": day(last_night + 1).isoformat()}


def closed_everything_once(site: Any, world: int, answers: list[Answer],
                           nights: set[tuple[int, date]]) -> None:
    """Each (room, night) asked for is held by exactly one black booking, which one answer
    made; no two answers made the same black booking, and every one made is still there."""
    made = [b["contract_uid"] for a in answers for b in a.data["blackbookings"]]
    assert len(made) == len(set(made)), made
    session = site.kit.session()
    rows = session.execute(select(RoomBooking.room_uid, RoomBooking.date,
                                  RoomBooking.contract_uid, Contract.blackbooking).join(
        Contract, Contract.contract_uid == RoomBooking.contract_uid).where(
        RoomBooking.property_uid == 1, RoomBooking.date >= day(20))).all()
    held = Counter((r.room_uid, r.date) for r in rows)
    assert set(held) == nights and set(held.values()) == {1}
    assert all(r.blackbooking for r in rows)
    assert {r.contract_uid for r in rows} == set(made)
    fired = events_since(site, world, "blackbooking_created")
    assert sorted(ids["contract_uid"] for ids in fired) == sorted(made)
    contracts_hold_their_nights(site)


def close_identical_check(site: Any, world: int, answers: list[Answer]) -> None:
    closed_everything_once(site, world, answers, {(1, day(n)) for n in range(30, 33)})
    assert sum(len(a.data["blackbookings"]) for a in answers) == 1


def overlapping_close(n: int) -> tuple[int, int, list[int]]:
    return 30 + n % 7, 32 + n % 7, [1] if n % 2 else [1, 3]


def close_overlapping_check(site: Any, world: int, answers: list[Answer]) -> None:
    nights = set()
    for n in range(CLIENTS):
        first, last, rooms = overlapping_close(n)
        nights |= {(room, day(d)) for room in rooms for d in range(first, last + 1)}
    closed_everything_once(site, world, answers, nights)


OPEN_FIRST, OPEN_LAST = 30, 51  # the black booking the open races start from: room 1


def close_for_opening(site: Any) -> int:
    services.close_nights(site.kit, 1, [1], day(OPEN_FIRST), day(OPEN_LAST + 1))
    return last_event_id(site)


def still_closed(site: Any, expected: set[int]) -> None:
    held = holders(site, 1, OPEN_FIRST, OPEN_LAST)
    closed = {(night - date.today()).days for night, contracts in held.items() if contracts}
    assert closed == expected, sorted(closed)
    assert all(len(contracts) <= 1 for contracts in held.values())
    contracts_hold_their_nights(site)


def open_identical_check(site: Any, world: int, answers: list[Answer]) -> None:
    still_closed(site, set(range(OPEN_FIRST, OPEN_LAST + 1)) - {35, 36})
    # The black booking was split once: one change, one new black booking for the part after.
    assert len(events_since(site, world, "booking_modified")) == 1
    assert len(events_since(site, world, "blackbooking_created")) == 1


def open_overlapping_check(site: Any, world: int, answers: list[Answer]) -> None:
    still_closed(site, {OPEN_LAST})


# -- bookings -----------------------------------------------------------------------------


def booking_body(first: int, last_night: int, room: int = 2, **more: Any) -> dict[str, Any]:
    return {"arrival": day(first).isoformat(), "departure": day(last_night + 1).isoformat(),
            "room_uids": [room], "guest": {"surname": "Racer"}, **more}


def bookings_made(site: Any, answers: list[Answer]) -> None:
    """The 201s' bookings are the only new ones, each holding exactly its nights, and no night
    of room 2 is held twice."""
    made = sorted(a.data["contract_uid"] for a in answers if a.status == 201)
    session = site.kit.session()
    new = sorted(session.scalars(select(Contract.contract_uid).where(
        Contract.contract_uid > 42, Contract.blackbooking.is_(False))))
    assert new == made
    added = [ids["contract_uid"] for ids in events_since(site, 0, "booking_added")]
    assert sorted(uid for uid in added if uid > 42) == made
    per_night = Counter(session.scalars(select(RoomBooking.date).where(
        RoomBooking.room_uid == 2, RoomBooking.date >= day(20))))
    assert set(per_night.values()) <= {1}
    contracts_hold_their_nights(site)


def booking_identical_check(site: Any, _world: Any, answers: list[Answer]) -> None:
    assert [a.status for a in answers].count(201) == 1
    bookings_made(site, answers)


def overlapping_booking(n: int) -> tuple[int, int]:
    return 50 + n, 52 + n


def booking_overlapping_check(site: Any, _world: Any, answers: list[Answer]) -> None:
    assert [a.status for a in answers].count(201) >= 1
    bookings_made(site, answers)


def booking_number_check(site: Any, _world: Any, answers: list[Answer]) -> None:
    assert [a.status for a in answers].count(201) == 1
    bookings_made(site, answers)
    numbers = site.kit.session().scalars(select(Contract.booking_number).where(
        Contract.property_uid == 1, Contract.booking_number == "CM-7781"))
    assert len(list(numbers)) == 1


def contract_41(site: Any) -> Contract:
    session = site.kit.session()
    session.expire_all()
    return session.get(Contract, 41)


def patch_identical_check(site: Any, _world: Any, answers: list[Answer]) -> None:
    contract = contract_41(site)
    assert (contract.adults, contract.special_requests) == (2, "A late arrival")
    assert {a.body["data"]["special_requests"] for a in answers} == {"A late arrival"}
    contracts_hold_their_nights(site)


def stay_for_41(n: int) -> dict[str, Any]:
    return {"departure": day(80 + n % 5).isoformat(), "adults": 1 + n % 2,
            "arrival": day(70).isoformat()}


def patch_overlapping_check(site: Any, _world: Any, answers: list[Answer]) -> None:
    contract = contract_41(site)
    won = [a.data for a in answers if a.status == 200]
    # The booking is what one of the successful changes made it, whole: not a mix of two.
    assert (contract.departure.isoformat(), contract.adults) in {
        (d["departure"], d["adults"]) for d in won}
    contracts_hold_their_nights(site)


def cancel_identical_check(site: Any, world: int, answers: list[Answer]) -> None:
    assert [a.status for a in answers].count(200) == 1
    assert contract_41(site).status == "cancelled"
    assert events_since(site, world, "booking_cancelled") == [
        {"property_uid": 1, "contract_uid": 41}]
    contracts_hold_their_nights(site)


def cancel_or_change(n: int) -> Sent:
    if n % 2:
        return Sent("/bookings/1/41", {"special_requests": f"change {n}"}, method="PATCH")
    return Sent("/bookings/1/41/cancel")


def cancel_overlapping_check(site: Any, world: int, answers: list[Answer]) -> None:
    cancels = [a for a in answers if a.sent.method is None]
    assert [a.status for a in cancels].count(200) == 1
    assert contract_41(site).status == "cancelled"
    assert len(events_since(site, world, "booking_cancelled")) == 1
    late = [a for a in answers if a.sent.method == "PATCH" and a.status == 409]
    assert {a.code for a in late} <= {"booking_cancelled"}
    contracts_hold_their_nights(site)


# -- the event feed's acknowledged cursor -------------------------------------------------


def events_to_acknowledge(site: Any) -> None:
    for _ in range(CLIENTS + 5):
        site.kit.fire("property_updated", property_uid=1)


def feed(get: Callable[[str, dict[str, str]], Any], after: str | None, count: int) -> list[str]:
    """The cursors of the first ``count`` events after ``after``, then of any that follow at
    once. On PostgreSQL an event is handed out once every transaction begun before it ended
    (other work on the server may hold the feed back a moment), so this waits for them."""
    found: list[str] = []
    for _ in range(120):  # up to about two minutes held back
        params = {"limit": "1000", "wait": "1"} if len(found) < count else {"limit": "1000"}
        if after is not None:
            params["after"] = after
        data = get("/events", params)["data"]
        if not data and len(found) >= count:
            return found
        found += [event["cursor"] for event in data]
        after = data[-1]["cursor"] if data else after
    raise AssertionError(f"{len(found)} events read, {count} expected")


def cursors(_world: Any, get: Callable[[str, dict[str, str]], Any]) -> dict[str, Any]:
    """The cursor of each event the key reads, oldest first, and a way to read on."""
    return {"cursors": feed(get, None, CLIENTS + 5), "get": get}


def acknowledged_furthest(_site: Any, world: dict[str, Any], answers: list[Answer]) -> None:
    """Reading on from the key's acknowledged position starts after the newest cursor any
    answer acknowledged: never behind what was acknowledged."""
    furthest = max(world["cursors"].index(a.sent.body["cursor"]) for a in answers)
    expected = world["cursors"][furthest + 1:]
    assert feed(world["get"], "acknowledged", len(expected)) == expected
    assert {a.data["cursor"] for a in answers} <= set(world["cursors"][:furthest + 1])


# -- booking handover: acknowledging a revision -------------------------------------------

ACKNOWLEDGE = "/handover/bookings/<int:property_uid>/<int:contract_uid>/<int:revision>/acknowledge"


def revisions_to_take(site: Any, count: int = 1) -> list[tuple[int, int]]:
    """``count`` new bookings of property 1: (contract_uid, revision) each, oldest first."""
    made = []
    for n in range(count):
        contract = services.add_booking(site.kit, 1, day(200 + 3 * n), day(202 + 3 * n), [2])
        made.append((contract.contract_uid, last_event_id(site)))  # its event is the revision
    return made


def acknowledge_path(contract_uid: int, revision: int) -> str:
    return f"/handover/bookings/1/{contract_uid}/{revision}/acknowledge"


def acknowledged_once_each(site: Any, world: list[tuple[int, int]],
                           answers: list[Answer]) -> None:
    """One acknowledgement row per revision acknowledged, whatever raced; every answer for a
    revision says the same first acknowledgement."""
    from jomreskit_api_feature_handover.models import Acknowledgement

    rows = Counter(site.kit.session().scalars(select(Acknowledgement.revision)))
    assert rows == Counter({revision: 1 for _, revision in world}), rows
    said: dict[int, set[str]] = {}
    for answer in answers:
        said.setdefault(answer.data["revision"], set()).add(answer.data["acknowledged_at"])
    assert all(len(times) == 1 for times in said.values()), said


# -- restrictions and bulk ARI: one night, one value of each restriction -------------------


def seed_restrictions(site: Any) -> int:
    """Double closed to arrival on nights 1 to 60 (which no race names), and priced at 70."""
    services.lock_property(site.kit, 1)
    restrictions.write(site.kit, 1, "Double", [day(n) for n in range(RATES_FIRST, RATES_LAST + 1)],
                       {"closed_to_arrival": True})
    seed_rate(site)
    return last_event_id(site)


def restrictions_by_night(site: Any) -> dict[date, Any]:
    rows = site.kit.session().scalars(select(Restriction).where(
        Restriction.property_uid == 1, Restriction.room_type == "Double")).all()
    nights = Counter(row.date for row in rows)
    assert max(nights.values()) == 1, "a night with two rows of restrictions"
    return {row.date: row for row in rows}


def min_stays_kept(site: Any, could_be: Callable[[int], set[int | None]]) -> None:
    """Each night keeps one min_stay_arrival, one a racing write could have left, and the
    closed_to_arrival no write named."""
    nights = restrictions_by_night(site)
    for n in range(RATES_FIRST, RATES_LAST + 1):
        row = nights[day(n)]
        assert row.closed_to_arrival is True, (n, "a restriction no write named was changed")
        assert row.min_stay_arrival in could_be(n), (n, row.min_stay_arrival)


def restriction_range(n: int) -> tuple[int, int, int]:
    return 5 + 2 * n, 5 + 2 * n + 9, 1 + n


def overlapping_minimum(n: int) -> set[int | None]:
    return {None} | {m for f, t, m in map(restriction_range, range(CLIENTS)) if f <= n <= t}


def restrictions_identical_check(site: Any, world: int, answers: list[Answer]) -> None:
    min_stays_kept(site, lambda n: {3} if 20 <= n <= 29 else {None})
    assert len(events_since(site, world, "restrictions_updated")) == CLIENTS
    assert all(a.data == answers[0].data for a in answers)


def restrictions_overlapping_check(site: Any, world: int, answers: list[Answer]) -> None:
    min_stays_kept(site, overlapping_minimum)
    assert len(events_since(site, world, "restrictions_updated")) == CLIENTS


STOP_FIRST = 100  # a stop sell of the Twin (room 2) on nights 100 to 119, racing bookings
STOP_SELLER = CLIENTS // 2  # of its nights, one each: client STOP_SELLER sends the stop sell


def stop_sell_or_booking(n: int) -> Sent:
    if n == STOP_SELLER:
        return Sent("/restrictions/1", {
            "room_type": "Twin", "valid_from": day(STOP_FIRST).isoformat(),
            "valid_to": day(STOP_FIRST + CLIENTS - 1).isoformat(), "stop_sell": True})
    return Sent("/bookings/1", booking_body(STOP_FIRST + n, STOP_FIRST + n), method="POST")


def stop_sell_ordered_with_bookings(site: Any, world: int, answers: list[Answer]) -> None:
    """Each booking was made before the stop sell was (its event is the older) or refused for
    it: none read the restrictions as they were before a stop sell that had committed."""
    assert answers[STOP_SELLER].status == 200
    fired = site.kit.session().execute(select(EventRecord.id, EventRecord.name, EventRecord.ids)
                                       .where(EventRecord.id > world)).all()
    (stop,) = [e.id for e in fired if e.name == "restrictions_updated"]
    added = {e.ids["contract_uid"]: e.id for e in fired if e.name == "booking_added"}
    made = {a.data["contract_uid"] for a in answers if a.status == 201}
    assert set(added) == made
    late = {uid: event for uid, event in added.items() if event > stop}
    assert not late, f"bookings made on stop-sold nights after the stop sell: {late}"
    refused_for_it = [a.n for a in answers if a.status == 422]
    assert len(made) + len(refused_for_it) == CLIENTS - 1
    contracts_hold_their_nights(site)


def ari_item(n: int) -> dict[str, Any]:
    first, last, minimum = restriction_range(n)
    return {"room_type": "Double", "valid_from": day(first).isoformat(),
            "valid_to": day(last).isoformat(), "price_per_night": str(Decimal(100 + n)),
            "min_stay_arrival": minimum}


def ari_applied_once_per_request(site: Any, world: int, answers: list[Answer]) -> None:
    assert all(a.data["applied"] == len(a.sent.body["items"]) for a in answers)
    assert len(events_since(site, world, "tariffs_updated")) == CLIENTS
    assert len(events_since(site, world, "restrictions_updated")) == CLIENTS


def ari_identical_check(site: Any, world: int, answers: list[Answer]) -> None:
    ari_applied_once_per_request(site, world, answers)
    rates_identical_check(site, world, [])
    min_stays_kept(site, lambda n: {3} if 20 <= n <= 29 else {None})


def ari_overlapping_check(site: Any, world: int, answers: list[Answer]) -> None:
    ari_applied_once_per_request(site, world, answers)
    prices = one_price_per_night(site, [])
    nights = restrictions_by_night(site)
    for night, price in prices.items():
        n = (night - day(0)).days
        writers = [m for m in range(CLIENTS)
                   if restriction_range(m)[0] <= n <= restriction_range(m)[1]]
        if not writers:
            assert price == Decimal(70) and nights[night].min_stay_arrival is None
            continue
        # Each item is applied whole: the price and the minimum are the same writer's.
        writer = int(price) - 100
        assert writer in writers, (night, price)
        assert nights[night].min_stay_arrival == 1 + writer, (night, price)
    min_stays_kept(site, overlapping_minimum)


RACES: dict[tuple[str, str], tuple[Race, ...]] = {
    ("PUT", "/rates/<int:property_uid>"): (
        Race("identical", ("rates_write",), arrange=seed_rate,
             send=lambda _w, n: Sent("/rates/1", {
                 "room_type": "Double", "valid_from": day(20).isoformat(),
                 "valid_to": day(29).isoformat(), "price_per_night": "80.00"}),
             answers=ok(200), check=rates_identical_check),
        Race("overlapping", ("rates_write",), arrange=seed_rate,
             send=lambda _w, n: Sent("/rates/1", {
                 "room_type": "Double", "valid_from": day(overlapping_rate(n)[0]).isoformat(),
                 "valid_to": day(overlapping_rate(n)[1]).isoformat(),
                 "price_per_night": str(overlapping_rate(n)[2])}),
             answers=ok(200), check=rates_overlapping_check),
    ),
    ("POST", "/availability/<int:property_uid>/close"): (
        Race("identical", ("availability_write",), arrange=last_event_id,
             send=lambda _w, n: Sent("/availability/1/close", close_body(30, 32, [1])),
             answers=ok(200), check=close_identical_check),
        Race("overlapping", ("availability_write",), arrange=last_event_id,
             send=lambda _w, n: Sent("/availability/1/close",
                                     close_body(*overlapping_close(n))),
             answers=ok(200), check=close_overlapping_check),
    ),
    ("POST", "/availability/<int:property_uid>/open"): (
        Race("identical", ("availability_write",), arrange=close_for_opening,
             send=lambda _w, n: Sent("/availability/1/open", close_body(35, 36, [1])),
             answers=ok(200), check=open_identical_check),
        Race("overlapping", ("availability_write",), arrange=close_for_opening,
             send=lambda _w, n: Sent("/availability/1/open",
                                     close_body(OPEN_FIRST + n, OPEN_FIRST + n + 1, [1])),
             answers=ok(200), check=open_overlapping_check),
    ),
    ("POST", "/bookings/<int:property_uid>"): (
        Race("identical", ("bookings_write",),
             send=lambda _w, n: Sent("/bookings/1", booking_body(50, 52)),
             answers=ok(201) | refused(409, "room_unavailable"),
             check=booking_identical_check),
        Race("overlapping", ("bookings_write",),
             send=lambda _w, n: Sent("/bookings/1", booking_body(*overlapping_booking(n))),
             answers=ok(201) | refused(409, "room_unavailable"),
             check=booking_overlapping_check),
        Race("same booking number", ("bookings_write",),
             send=lambda _w, n: Sent("/bookings/1", booking_body(
                 100 + 3 * n, 101 + 3 * n, booking_number="CM-7781")),
             answers=ok(201) | refused(409, "booking_number_taken"),
             check=booking_number_check),
    ),
    ("PATCH", "/bookings/<int:property_uid>/<int:contract_uid>"): (
        Race("identical", ("bookings_write",),
             send=lambda _w, n: Sent("/bookings/1/41", {"adults": 2,
                                                        "special_requests": "A late arrival"}),
             answers=ok(200), check=patch_identical_check),
        Race("overlapping", ("bookings_write",),
             send=lambda _w, n: Sent("/bookings/1/41", stay_for_41(n)),
             answers=ok(200) | refused(409, "room_unavailable"),
             check=patch_overlapping_check),
    ),
    ("POST", "/bookings/<int:property_uid>/<int:contract_uid>/cancel"): (
        Race("identical", ("bookings_write",), arrange=last_event_id,
             send=lambda _w, n: Sent("/bookings/1/41/cancel"),
             answers=ok(200) | refused(409, "already_cancelled"),
             check=cancel_identical_check),
        Race("racing a change", ("bookings_write",), arrange=last_event_id,
             send=lambda _w, n: cancel_or_change(n),
             answers=ok(200) | refused(409, "already_cancelled", "booking_cancelled"),
             check=cancel_overlapping_check),
    ),
    ("PUT", "/restrictions/<int:property_uid>"): (
        Race("identical", ("restrictions_write",), arrange=seed_restrictions,
             send=lambda _w, n: Sent("/restrictions/1", {
                 "room_type": "Double", "valid_from": day(20).isoformat(),
                 "valid_to": day(29).isoformat(), "min_stay_arrival": 3}),
             answers=ok(200), check=restrictions_identical_check),
        Race("overlapping", ("restrictions_write",), arrange=seed_restrictions,
             send=lambda _w, n: Sent("/restrictions/1", {
                 "room_type": "Double",
                 "valid_from": day(restriction_range(n)[0]).isoformat(),
                 "valid_to": day(restriction_range(n)[1]).isoformat(),
                 "min_stay_arrival": restriction_range(n)[2]}),
             answers=ok(200), check=restrictions_overlapping_check),
        Race("a stop sell racing bookings", ("restrictions_write", "bookings_write"),
             arrange=last_event_id, send=lambda _w, n: stop_sell_or_booking(n),
             answers=ok(200, 201) | refused(422, "stop_sell"),
             check=stop_sell_ordered_with_bookings),
    ),
    ("POST", "/ari/<int:property_uid>"): (
        Race("identical", ("ari_write",), arrange=seed_restrictions,
             send=lambda _w, n: Sent("/ari/1", {"items": [
                 {"room_type": "Double", "valid_from": day(20).isoformat(),
                  "valid_to": day(29).isoformat(), "price_per_night": "80.00",
                  "min_stay_arrival": 3}]}),
             answers=ok(200), check=ari_identical_check),
        Race("overlapping", ("ari_write",), arrange=seed_restrictions,
             send=lambda _w, n: Sent("/ari/1", {"items": [ari_item(n)]}),
             answers=ok(200), check=ari_overlapping_check),
    ),
    ("PUT", "/events/cursor"): (
        Race("identical", ("events_get",), arrange=events_to_acknowledge, prepare=cursors,
             send=lambda w, n: Sent("/events/cursor", {"cursor": w["cursors"][-3]}),
             answers=ok(200), check=acknowledged_furthest),
        Race("overlapping", ("events_get",), arrange=events_to_acknowledge, prepare=cursors,
             send=lambda w, n: Sent("/events/cursor", {"cursor": w["cursors"][n]}),
             answers=ok(200), check=acknowledged_furthest),
    ),
    ("POST", ACKNOWLEDGE): (
        Race("identical", ("bookings_handover",), arrange=revisions_to_take,
             send=lambda w, n: Sent(acknowledge_path(*w[0])),
             answers=ok(200), check=acknowledged_once_each),
        Race("out of order", ("bookings_handover",),
             arrange=lambda site: revisions_to_take(site, 10),
             send=lambda w, n: Sent(acknowledge_path(*w[9 - n % 10])),  # newest first, twice
             answers=ok(200), check=acknowledged_once_each),
    ),
}

# Write routes that are not raced here, each with the reason.
OPTED_OUT: dict[tuple[str, str], str] = {}
