"""Booking handover at scale: GET /api/handover/bookings and the alarm's check with 100,000
booking revisions stored.

Builds a site with two keys of the demo manager with `bookings_handover`, measures the list
(100 revisions a page, through the whole API in-process: token check, query, JSON) with no
revision stored (the baseline, same sitting), then records 100,000 revisions (a third at a
property the manager does not run) of which the first key has acknowledged every one, and
measures again: the key with everything pending, the key with everything acknowledged, and one
alarm check with nothing due. The revisions are spread over the past 23 days (one every 20 s),
as a month's kept history is, and the acknowledging key's last acknowledgement is made through
the API (timed too, the first and the next), as a channel manager's is: it moves the key's
watermark, from which its list reads.

    .venv/bin/python bench/handover.py                    # SQLite, and PostgreSQL when
    JOMRESKIT_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/handover.py                # ... this is set
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from jomreskit_api_core import keys
from jomreskit_api_feature_handover import SCOPE, alarm

from jomreskit import create_app, get_kit
from jomreskit.testing import scratch_database

ROUNDS = 30


def build_site(folder: Path, database_url: str) -> Flask:
    config = {
        "JOMRESKIT_INSTANCE_PATH": str(folder / "instance"),
        "JOMRESKIT_DATABASE_URL": database_url,
        "JOMRESKIT_PLUGINS_DIR": str(folder / "plugins"),
        "JOMRESKIT_SECRET_KEY": "bench",
        "JOMRESKIT_API_RATE_LIMIT": "off",
    }
    logging.getLogger("jomreskit").setLevel(logging.ERROR)
    first = create_app(config)
    with first.app_context():
        get_kit(first).upgrade_database(report=lambda _m: None)
        from jomreskit.core.domain import demo

        with get_kit(first).transaction():
            demo.seed(get_kit(first))
    get_kit(first).engine.dispose()
    return create_app(config)


def key(app: Flask) -> tuple[int, str]:
    kit = get_kit(app)
    with app.app_context(), kit.transaction():
        made, secret = keys.create_key(kit, "manager", [SCOPE])
        key_id, client_id = made.id, made.client_id
    answer = app.test_client().post("/api/oauth/token", auth=(client_id, secret),
                                    data={"grant_type": "client_credentials"})
    return key_id, answer.get_json()["access_token"]


def record(app: Flask, count: int, acknowledging: int) -> None:
    engine = get_kit(app).engine
    if engine.dialect.name == "postgresql":
        series = "SELECT g FROM generate_series(1, :n) AS g"
        now = "now() - (:n - g) * interval '20 seconds'"
    else:
        series = ("WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n) "
                  "SELECT g FROM s")
        now = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || ((:n - g) * 20) || ' seconds')"
    with engine.begin() as connection:
        # The keys are older than the history: it is theirs to take.
        connection.execute(sa.text("UPDATE api_keys SET created_at = :then"),
                           {"then": datetime.now(UTC) - timedelta(days=30)})
        connection.execute(sa.text(
            "INSERT INTO handover_revisions (revision, property_uid, contract_uid, type, "
            f"recorded_at) SELECT 1000000 + g, 1 + g % 3, 41, 'booking_modified', {now} "
            f"FROM ({series}) AS t"), {"n": count})
        connection.execute(sa.text(
            "INSERT INTO handover_acknowledgements (api_key_id, revision, acknowledged_at) "
            "SELECT :key, revision, recorded_at FROM handover_revisions"), {"key": acknowledging})
        connection.exec_driver_sql("ANALYZE")


def acknowledge_newest(app: Flask, token: str) -> float:
    """The key acknowledges the newest revision through the API; milliseconds it took."""
    with app.app_context():
        newest = get_kit(app).session().execute(sa.text(
            "SELECT property_uid, contract_uid, revision FROM handover_revisions "
            "WHERE property_uid = 1 ORDER BY revision DESC LIMIT 1")).one()
        get_kit(app).session.remove()
    started = time.perf_counter()
    answer = app.test_client().post(
        f"/api/handover/bookings/{newest.property_uid}/{newest.contract_uid}/{newest.revision}"
        "/acknowledge", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return (time.perf_counter() - started) * 1000


def median_ms(app: Flask, token: str) -> tuple[float, int]:
    client, times, count = app.test_client(), [], 0
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(ROUNDS):
        started = time.perf_counter()
        answer = client.get("/api/handover/bookings?limit=100", headers=headers)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        count = len(answer.get_json()["data"])
    return statistics.median(times) * 1000, count


def run(database_url: str | None, count: int) -> None:
    with tempfile.TemporaryDirectory() as folder, \
            scratch_database(database_url, Path(folder), "bench") as url:
        app = build_site(Path(folder), url)
        print(f"{get_kit(app).engine.dialect.name}:")
        done_key, done_token = key(app)
        _, pending_token = key(app)
        baseline, _ = median_ms(app, pending_token)
        print(f"  list, no revision stored (baseline): {baseline:.1f} ms")
        started = time.perf_counter()
        record(app, count, done_key)
        print(f"  recorded {count:,} revisions in {time.perf_counter() - started:.0f} s")
        first = acknowledge_newest(app, done_token)
        print(f"  an acknowledgement through the API: {first:.1f} ms the first (its key's "
              f"watermark passes the history), {acknowledge_newest(app, done_token):.1f} ms "
              f"the next")
        pending, shown = median_ms(app, pending_token)
        print(f"  list, {count:,} pending: {pending:.1f} ms ({shown} shown), "
              f"{pending / baseline:.1f}x the baseline")
        done, shown = median_ms(app, done_token)
        print(f"  list, {count:,} acknowledged: {done:.1f} ms ({shown} shown), "
              f"{done / baseline:.1f}x the baseline")
        with app.app_context():
            started = time.perf_counter()
            alarm.check(get_kit(app), SCOPE)
            print(f"  one alarm check, nothing due: "
                  f"{(time.perf_counter() - started) * 1000:.1f} ms")
        get_kit(app).engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--revisions", type=int, default=100_000)
    args = parser.parse_args()
    run(None, args.revisions)
    if os.environ.get("JOMRESKIT_BENCH_DATABASE_URL"):
        run(os.environ["JOMRESKIT_BENCH_DATABASE_URL"], args.revisions)


if __name__ == "__main__":
    main()
