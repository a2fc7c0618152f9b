"""What the benches that serve a site share: a set-up site in a scratch database, served by
waitress in a process of its own; keep-alive clients loading one route at a time; rounds that
pair each figure with its baseline's, taken moments apart; and the line that says how busy the
machine was.

A bench imports it from its own folder (``sys.path.insert(0, str(Path(__file__).parent))``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import tempfile
import threading
import time
from base64 import b64encode
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

# The API's rate limits count every call but are never reached.
UNLIMITED = {"JOMRESKIT_API_RATE_LIMIT": "100000000/minute",
             "JOMRESKIT_API_TOKEN_RATE_LIMIT": "100000000/minute"}


# -- the site ----------------------------------------------------------------------------------


def site_config(folder: Path, database_url: str, plugin: str | None = None,
                **settings: str) -> dict[str, str]:
    """A bench site's settings: its instance and plugins folder in ``folder`` (``plugin``: the
    source of a single-file plugin dropped there), the API's rate limits out of the way."""
    plugins = folder / "plugins"
    plugins.mkdir(exist_ok=True)
    if plugin is not None:
        (plugins / "bench_plugin.py").write_text(plugin)
    return {
        "JOMRESKIT_INSTANCE_PATH": str(folder / "instance"),
        "JOMRESKIT_DATABASE_URL": database_url,
        "JOMRESKIT_PLUGINS_DIR": str(plugins),
        "JOMRESKIT_SECRET_KEY": "bench",
        **UNLIMITED,
        **settings,
    }


def set_up(config: dict[str, str], prepare: Callable[[Any], Any]) -> Any:
    """Migrate the site (`jomreskit db upgrade`), then start it from the registry that built,
    as a server would, and run ``prepare(kit)`` in one transaction (the demo seed, a key...);
    returns what ``prepare`` returned."""
    from jomreskit import create_app, get_kit

    installer = get_kit(create_app(config))
    with installer.app.app_context():
        installer.upgrade_database(report=lambda _m: None)
    installer.engine.dispose()
    kit = get_kit(create_app(config))
    with kit.app.app_context():
        with kit.transaction():
            prepared = prepare(kit)
    kit.engine.dispose()
    return prepared


@contextmanager
def scratch_site_folder(database_url: str) -> Iterator[tuple[Path, str]]:
    """A temporary folder and a scratch database in it (SQLite when ``database_url`` is empty,
    else a schema of its own on that PostgreSQL server): (folder, the database's URL)."""
    from jomreskit.testing import scratch_database

    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(database_url or None, Path(tmp), prefix="bench") as url,
    ):
        yield Path(tmp), url


def serve_site(config: dict[str, str], port: int, threads: int) -> None:
    import logging

    import waitress

    from jomreskit import create_app

    logging.disable(logging.WARNING)  # waitress's queue notices are not figures
    waitress.serve(create_app(config), host="127.0.0.1", port=port, threads=threads, _quiet=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(port: int, path: str) -> None:
    for _ in range(300):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server on port {port} did not start")


@contextmanager
def served(config: dict[str, str] | None, threads: int,
           target: Callable[..., None] = serve_site, path: str = "/api/") -> Iterator[int]:
    """The site served by waitress with ``threads`` threads in a process of its own, up and
    answering at ``path``: its port. ``target(config, port, threads)`` serves another app."""
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(
        target=target, args=(config, port, threads), daemon=True)
    server.start()
    try:
        wait_until_up(port, path)
        yield port
    finally:
        server.terminate()
        server.join(10)


def token(port: int, client_id: str, secret: str) -> str:
    """An access token from the served site's token endpoint."""
    basic = b64encode(f"{client_id}:{secret}".encode()).decode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/api/oauth/token", body="grant_type=client_credentials",
                       headers={"Authorization": f"Basic {basic}",
                                "Content-Type": "application/x-www-form-urlencoded"})
    found = json.loads(connection.getresponse().read())["access_token"]
    connection.close()
    return str(found)


# -- the load ----------------------------------------------------------------------------------

# One request on a client's keep-alive connection: (connection, the client's number) -> status.
Call = Callable[[http.client.HTTPConnection, int], int]


def request(connection: http.client.HTTPConnection, method: str, path: str,
            headers: dict[str, str], body: str | None = None) -> int:
    """Send one request and read its answer in full: its status."""
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


def get(path: str, headers: dict[str, str]) -> Call:
    return lambda connection, _client=0: request(connection, "GET", path, headers)


def post_form(path: str, form: dict[str, str], headers: dict[str, str]) -> Call:
    body = urlencode(form)
    headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    return lambda connection, _client=0: request(connection, "POST", path, headers, body)


def send_json(connection: http.client.HTTPConnection, method: str, path: str,
              headers: dict[str, str], body: object) -> int:
    return request(connection, method, path, {**headers, "Content-Type": "application/json"},
                   json.dumps(body))


def load(port: int, call: Call, clients: int, seconds: float) -> tuple[float, int]:
    """``clients`` threads, each with a keep-alive connection (connected before the clock
    starts), calling for ``seconds``: (requests per second, answers other than 2xx)."""
    counts, errors = [0] * clients, [0] * clients
    ready = threading.Barrier(clients + 1)
    deadline = [time.perf_counter() + 3600]

    def worker(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.connect()
        ready.wait()
        while time.perf_counter() < deadline[0]:
            if not 200 <= call(connection, n) < 300:
                errors[n] += 1
            counts[n] += 1
        connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    began = time.perf_counter()
    deadline[0] = began + seconds
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - began), sum(errors)


Measure = Callable[[], tuple[float, int]]  # one figure (per second) and the failures in it


@dataclass
class Paired:
    """Figures of rounds in which each subject was measured beside the baseline."""

    baseline: list[float] = field(default_factory=list)
    rates: dict[str, list[float]] = field(default_factory=dict)
    ratios: dict[str, list[float]] = field(default_factory=dict)  # subject / baseline
    failed: dict[str, int] = field(default_factory=dict)


def paired_rounds(rounds: int, baseline: Measure, subjects: dict[str, Measure]) -> Paired:
    """Each round measures every subject right after or right before the baseline, taking
    turns at going first, so load from elsewhere on the machine weighs on both figures of a
    pair; a subject's ratio is taken within its pair."""
    paired = Paired(rates={label: [] for label in subjects},
                    ratios={label: [] for label in subjects}, failed=dict.fromkeys(subjects, 0))
    for round_number in range(rounds):
        for label, subject in subjects.items():
            if round_number % 2:
                (rate, failed), (base, _) = subject(), baseline()
            else:
                (base, _), (rate, failed) = baseline(), subject()
            paired.baseline.append(base)
            paired.rates[label].append(rate)
            paired.failed[label] += failed
            paired.ratios[label].append(rate / base)
    return paired


# -- the run -----------------------------------------------------------------------------------


def arguments(description: str, db: str = "both", rounds: int = 3, seconds: float = 1.0,
              per: str = "per route and round", threads: str = "waitress threads",
              ) -> argparse.ArgumentParser:
    """The options of a bench that loads a served site: --db, --rounds, --seconds (``per``
    what), --clients, --threads."""
    parser = argparse.ArgumentParser(description=description)
    databases = ["sqlite", "postgresql", "both"] if db == "both" else ["sqlite", "postgresql"]
    parser.add_argument("--db", choices=databases, default=db)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--seconds", type=float, default=seconds, help=per)
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--threads", type=int, default=8, help=threads)
    return parser


def postgres_url() -> str | None:
    return (os.environ.get("JOMRESKIT_BENCH_DATABASE_URL")
            or os.environ.get("JOMRESKIT_TEST_POSTGRES_URL"))


def print_machine(note: str = " (other work on the machine slows every figure; the ratios "
                              "pair figures taken moments apart)") -> None:
    load_average = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"{os.cpu_count()} cores; load average {load_average}{note}")


def on_databases(args: argparse.Namespace, measure: Callable[[str, argparse.Namespace], None],
                 ) -> None:
    """Run ``measure`` on SQLite and on PostgreSQL as ``args.db`` says ("sqlite",
    "postgresql" or "both"); "both" skips PostgreSQL, saying so, when no server is named."""
    import logging

    logging.disable(logging.WARNING)  # the set-up's notices, not figures
    if args.db in ("sqlite", "both"):
        measure("", args)
    if args.db in ("postgresql", "both"):
        postgres = postgres_url()
        if postgres:
            measure(postgres, args)
        elif args.db == "both":
            print("\n== postgresql: skipped (set JOMRESKIT_TEST_POSTGRES_URL)")
        else:
            raise SystemExit("set JOMRESKIT_TEST_POSTGRES_URL (or use --db sqlite)")
