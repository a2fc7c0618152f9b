"""A year of prices and restrictions for every room type of a property, pushed in one call.

    JOMRESKIT_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/ari.py [--db postgresql|sqlite] [--room-types 10] [--rounds 3]

The site (demo data, rooms of ``--room-types`` types at property 1, the API with every installed
plugin) is served by waitress in a process of its own. One ``POST /api/ari/1`` carries, for each
room type, one item per night for 366 nights (as channel managers send a day at a time): a price,
``min_stay_arrival`` and ``closed_to_arrival``. Each round pushes the whole year twice (new
values, then again new ones, so every item overwrites what the round before left) and prints the
time of each push and the rows it leaves written (``tariffs`` and ``room_type_restrictions`` of
the property). The baseline, in the same sitting: a push of one item, the request's own cost.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402

NIGHTS = 366


def build_site(folder: Path, database_url: str, room_types: int) -> tuple[dict[str, str], str,
                                                                          str, list[str]]:
    """A demo-seeded site whose property 1 has rooms of ``room_types`` types, and a key."""
    from jomreskit_api_core import keys
    from sqlalchemy import select

    from jomreskit.core.domain import demo
    from jomreskit.domain import Room, services

    def prepare(kit: Any) -> tuple[str, str, list[str]]:
        demo.seed(kit)
        types = sorted(set(kit.session().scalars(
            select(Room.room_type).where(Room.property_uid == 1))))
        for n in range(len(types), room_types):
            services.add_room(kit, 1, room_number=f"T{n}", name=f"Type {n}",
                              room_type=f"Type {n}", max_people=2)
            types.append(f"Type {n}")
        key, secret = keys.create_key(kit, "manager", ["ari_write"])
        return key.client_id, secret, types[:room_types]

    config = harness.site_config(folder, database_url, JOMRESKIT_API_RATE_LIMIT="off",
                                 JOMRESKIT_API_TOKEN_RATE_LIMIT="off")
    return (config, *harness.set_up(config, prepare))


def year(types: list[str], round_: int) -> dict[str, object]:
    start = date.today() + timedelta(days=1)
    return {"items": [
        {"room_type": room_type, "valid_from": (start + timedelta(days=n)).isoformat(),
         "valid_to": (start + timedelta(days=n)).isoformat(),
         "price_per_night": f"{80 + (n + round_) % 40}.00",
         "min_stay_arrival": 1 + (n + round_) % 3,
         "closed_to_arrival": (n + round_) % 7 == 0}
        for room_type in types for n in range(NIGHTS)]}


def post(connection: http.client.HTTPConnection, headers: dict[str, str],
         body: object) -> tuple[float, dict[str, object]]:
    data = json.dumps(body)
    began = time.perf_counter()
    connection.request("POST", "/api/ari/1", body=data,
                       headers={**headers, "Content-Type": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    took = time.perf_counter() - began
    assert response.status == 200, answer
    return took, answer["data"]


def rows_written(database_url: str) -> tuple[int, int]:
    import sqlalchemy as sa

    from jomreskit.db import make_engine

    engine = make_engine(database_url)
    with engine.connect() as connection:
        tariffs = connection.execute(sa.text(
            "SELECT count(*) FROM tariffs WHERE property_uid = 1")).scalar_one()
        restrictions = connection.execute(sa.text(
            "SELECT count(*) FROM room_type_restrictions WHERE property_uid = 1")).scalar_one()
    engine.dispose()
    return tariffs, restrictions


def measure(database_url: str, args: argparse.Namespace) -> None:
    with harness.scratch_site_folder(database_url) as (folder, url):
        config, client_id, secret, types = build_site(folder, url, args.room_types)
        with harness.served(config, 4) as port:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            headers = {"Authorization": f"Bearer {harness.token(port, client_id, secret)}"}
            one = {"items": year(types, 0)["items"][:1]}
            print(f"{url.split('://')[0]}: {len(types)} room types x {NIGHTS} nights = "
                  f"{len(types) * NIGHTS} items per push")
            pushes, singles = [], []
            for round_ in range(args.rounds):
                singles.append(post(connection, headers, one)[0])
                took, answer = post(connection, headers, year(types, round_))
                assert answer["applied"] == len(types) * NIGHTS, answer["refused"]
                pushes.append(took)
                tariffs, restricted = rows_written(url)
                print(f"  round {round_ + 1}: one item {singles[-1] * 1000:.0f} ms; the year "
                      f"{took:.2f} s; rows left: {tariffs} tariffs, {restricted} "
                      f"restriction nights")
            push, single = statistics.median(pushes), statistics.median(singles)
            print(f"  median: the year in {push:.2f} s ({len(types) * NIGHTS / push:.0f} items/s)"
                  f", {push / single:.0f} x a one-item push ({single * 1000:.0f} ms)")
            connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--room-types", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    harness.print_machine("")
    harness.on_databases(args, measure)


if __name__ == "__main__":
    main()
