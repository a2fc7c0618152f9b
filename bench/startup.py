"""How long create_app() takes with every installed plugin, on a set-up SQLite site.

    .venv/bin/python bench/startup.py [--runs N]

Prints the median of N fresh processes (imports included: what a worker or CLI call pays)
and of N calls in one warm process (what a test or an app factory called again pays), beside
a bare ``Flask(__name__)`` in the same runs as the baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

FRESH = """
import time
t = time.perf_counter()
{body}
print(time.perf_counter() - t)
"""
JOMRESKIT = "from jomreskit import create_app; app = create_app()"
BARE = "from flask import Flask; app = Flask('bare')"


def fresh_process(body: str, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", FRESH.format(body=body)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as instance:
        env = {**os.environ, "JOMRESKIT_INSTANCE_PATH": instance}
        subprocess.run(
            [sys.executable, "-m", "jomreskit.cli", "db", "upgrade"],
            env=env,
            check=True,
            capture_output=True,
        )
        os.environ["JOMRESKIT_INSTANCE_PATH"] = instance
        from flask import Flask

        from jomreskit import create_app, get_kit

        plugins = get_kit(create_app()).loaded.names
        print(f"create_app() with {len(plugins)} plugins: {', '.join(plugins)}")
        cold = statistics.median(fresh_process(JOMRESKIT, env) for _ in range(runs))
        cold_bare = statistics.median(fresh_process(BARE, env) for _ in range(runs))
        warm, warm_bare = [], []
        for _ in range(runs):
            t = time.perf_counter()
            create_app()
            warm.append(time.perf_counter() - t)
            t = time.perf_counter()
            Flask("bare")
            warm_bare.append(time.perf_counter() - t)
        print(
            f"fresh process, imports included: median {cold * 1000:7.1f} ms "
            f"(bare Flask {cold_bare * 1000:.1f} ms, ratio {cold / cold_bare:.1f}x) "
            f"over {runs} runs"
        )
        print(
            f"warm process:                     median {statistics.median(warm) * 1000:7.1f} ms "
            f"(bare Flask {statistics.median(warm_bare) * 1000:.2f} ms) over {runs} runs"
        )


if __name__ == "__main__":
    main()
