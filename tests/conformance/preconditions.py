"""How each write route is tried for its preconditions: the read whose ETag its ``If-Match``
names, and a write that succeeds.

Every write route of the API (``Route.writes``) has an entry, keyed by method and rule. A route
with no ETag to match says why in ``no_if_match``; its Idempotency-Key is tried all the same.
test_preconditions.py fails for a write route with no entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jomreskit.domain import services

from .races import ACKNOWLEDGE, Sent, acknowledge_path, day, last_event_id, revisions_to_take


@dataclass(frozen=True)
class Read:
    """The GET whose ETag the write's If-Match names."""

    path: str
    params: dict[str, str]


@dataclass(frozen=True)
class Precondition:
    """``write(world, n)``: the n-th of several writes that each succeed alone from the world
    ``arrange(site)`` built, and each change what ``read`` answers."""

    scopes: tuple[str, ...]
    write: Callable[[Any, int], Sent]
    read: Read | None = None
    no_if_match: str = ""  # why the route has no ETag to match, when it has none
    arrange: Callable[[Any], Any] = last_event_id
    # Then, over HTTP: (world, get(path, params) -> JSON) -> the world the writes are made in.
    prepare: Callable[[Any, Callable[[str, dict[str, str]], Any]], Any] | None = None


def close_for_opening(site: Any) -> int:
    services.close_nights(site.kit, 1, [1, 2, 3], day(30), day(40))
    return last_event_id(site)


def nights(first: int, departure: int, rooms: list[int]) -> dict[str, Any]:
    return {"room_uids": rooms, "arrival": day(first).isoformat(),
            "departure": day(departure).isoformat()}


def fire_events(site: Any) -> None:
    for _ in range(3):
        site.kit.fire("property_updated", property_uid=1)


def cursors(_world: Any, get: Callable[[str, dict[str, str]], Any]) -> list[str]:
    """The cursor of each event the key can read, oldest first."""
    return [event["cursor"] for event in get("/events", {"limit": "1000"})["data"]]


PRECONDITIONS: dict[tuple[str, str], Precondition] = {
    ("PUT", "/rates/<int:property_uid>"): Precondition(
        ("rates_get", "rates_write"),
        read=Read("/rates/1", {"room_type": "Double"}),
        write=lambda _w, n: Sent("/rates/1", {
            "room_type": "Double", "valid_from": day(10).isoformat(),
            "valid_to": day(12).isoformat(), "price_per_night": f"{80 + n}.00"})),
    ("POST", "/availability/<int:property_uid>/close"): Precondition(
        ("availability_get", "availability_write"),
        read=Read("/availability/1", {"arrival": day(30).isoformat(),
                                      "departure": day(33).isoformat()}),
        write=lambda _w, n: Sent("/availability/1/close", nights(30, 33, [1 + n % 3]))),
    ("POST", "/availability/<int:property_uid>/open"): Precondition(
        ("availability_get", "availability_write"), arrange=close_for_opening,
        read=Read("/availability/1", {"arrival": day(32).isoformat(),
                                      "departure": day(34).isoformat()}),
        write=lambda _w, n: Sent("/availability/1/open", nights(32, 34, [1 + n % 3]))),
    ("POST", "/bookings/<int:property_uid>"): Precondition(
        ("bookings_get", "bookings_write"),
        no_if_match="creates a booking: there is no current one to match; its Idempotency-Key "
                    "makes a retry safe, and a taken room or booking number answers 409",
        write=lambda _w, n: Sent("/bookings/1", {
            "arrival": day(50 + 3 * n).isoformat(), "departure": day(52 + 3 * n).isoformat(),
            "room_uids": [2], "guest": {"surname": f"Guest {n}"}})),
    ("PATCH", "/bookings/<int:property_uid>/<int:contract_uid>"): Precondition(
        ("bookings_get", "bookings_write"), read=Read("/bookings/1/41", {}),
        write=lambda _w, n: Sent("/bookings/1/41", {"special_requests": f"Request {n}"})),
    ("POST", "/bookings/<int:property_uid>/<int:contract_uid>/cancel"): Precondition(
        ("bookings_get", "bookings_write"), read=Read("/bookings/1/41", {}),
        write=lambda _w, n: Sent("/bookings/1/41/cancel")),
    ("PUT", "/restrictions/<int:property_uid>"): Precondition(
        ("restrictions_get", "restrictions_write"),
        read=Read("/restrictions/1", {"room_type": "Double", "arrival": day(10).isoformat(),
                                      "departure": day(13).isoformat()}),
        write=lambda _w, n: Sent("/restrictions/1", {
            "room_type": "Double", "valid_from": day(10).isoformat(),
            "valid_to": day(12).isoformat(), "min_stay_arrival": 2 + n})),
    ("POST", "/ari/<int:property_uid>"): Precondition(
        ("ari_write",),
        no_if_match="a bulk push spans many room types and ranges, each item applied or "
                    "refused on its own: no one record to match; its Idempotency-Key makes a "
                    "retry safe",
        write=lambda _w, n: Sent("/ari/1", {"items": [{
            "room_type": "Double", "valid_from": day(10).isoformat(),
            "valid_to": day(12).isoformat(), "price_per_night": f"{80 + n}.00"}]})),
    ("PUT", "/events/cursor"): Precondition(
        ("events_get",), arrange=fire_events, prepare=cursors,
        no_if_match="stores the key's own acknowledged position, which only its key writes "
                    "and which never moves back; there is no shared record to match",
        write=lambda world, n: Sent("/events/cursor", {"cursor": world[-1 - n % len(world)]})),
    ("POST", ACKNOWLEDGE): Precondition(
        ("bookings_handover",), arrange=lambda site: revisions_to_take(site, 3),
        no_if_match="records the key's own acknowledgement of one revision, which only its key "
                    "writes and which acknowledging again leaves as it is; there is no shared "
                    "record to match",
        write=lambda world, n: Sent(acknowledge_path(*world[n % len(world)]))),
}
