"""The README's "case study, step by step", run as written: each terminal a shell of its own
that shares nothing with the others but the files the walkthrough writes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What step 1 installs: the other plugins of this checkout are left unloaded.
STEP_1_PLUGINS = "api_core,api_feature_webhooks,webhooks_core,authmethod_basic"


def walkthrough_steps(heading: str = "The case study, step by step") -> dict[int, list[str]]:
    """The code lines of each numbered step of a README section, by step number."""
    text = (ROOT / "README.md").read_text()
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    steps: dict[int, list[str]] = {}
    for number, body in re.findall(r"\*\*(\d+)\. (.*?)(?=\n\*\*\d+\. |\Z)", section, re.S):
        steps[int(number)] = [line[4:] for line in body.splitlines()
                              if line.startswith("    ")]
    return steps


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited early: {process.communicate()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture
def terminal(tmp_path):
    """Run walkthrough lines the way a fresh terminal would: a home of its own, no JOMRESKIT_*
    variables but those the walkthrough itself sets, ports 8000/8001 swapped for free ones."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "jomreskit-env").symlink_to(Path(sys.prefix))  # step 1's venv: this one
    ports = {"8000": str(free_port()), "8001": str(free_port())}
    env = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "JOMRESKIT_LOAD_PLUGINS": STEP_1_PLUGINS}
    started: list[subprocess.Popen] = []

    def script(lines: list[str]) -> str:
        text = "\n".join(lines)
        for old, new in ports.items():
            text = text.replace(old, new)
        return text

    def run(lines: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-e", "-c", script(lines)], cwd=ROOT, env=env,
                              input=stdin, capture_output=True, text=True, timeout=300)

    def start(lines: list[str], port: str) -> subprocess.Popen:
        process = subprocess.Popen(["bash", "-e", "-c", script(lines)], cwd=ROOT,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
        started.append(process)
        wait_for_port(int(ports[port]), process)
        return process

    run.home = home  # type: ignore[attr-defined]
    run.env = env  # type: ignore[attr-defined]
    run.start = start  # type: ignore[attr-defined]
    yield run
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=30)


def test_the_step_by_step_walkthrough_works_across_three_terminals(terminal):
    steps = walkthrough_steps()
    activate = [line.split("&& ", 1)[1] for line in steps[1] if "activate" in line]
    assert activate == [". ~/jomreskit-env/bin/activate"]

    first = terminal(activate + steps[2] + steps[3] + steps[4] + steps[5],
                     stdin="fawlty-towers-1975\nfawlty-towers-1975\n")
    assert first.returncode == 0, first.stderr
    terminal.start(steps[6], "8000")  # second terminal
    terminal.start(steps[7], "8001")  # third terminal
    fired = terminal(activate + [". ~/jomreskit-site/env", steps[8][0]])
    assert fired.returncode == 0, fired.stderr
    assert "queued 1 webhook delivery" in fired.stdout

    log = terminal.home / "jomreskit-site" / "responder.jsonl"
    deadline = time.monotonic() + 30
    records: list[dict] = []
    while time.monotonic() < deadline and not any(r["step"] == "callback" for r in records):
        time.sleep(0.2)
        records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() \
            else []
    assert [(r["step"], r["ok"]) for r in records] == [
        ("received", True), ("credentials", True), ("signature", True), ("token", True),
        ("callback", True)]
    shown = terminal(activate + [". ~/jomreskit-site/env", "jomreskit deliveries show 1 --json"])
    assert json.loads(shown.stdout)["status"] == "succeeded"


def test_writing_back_closes_nights_that_another_service_then_reads_closed(terminal):
    steps = walkthrough_steps()
    back = walkthrough_steps("Writing back")
    activate = [line.split("&& ", 1)[1] for line in steps[1] if "activate" in line]
    terminal.env["JOMRESKIT_LOAD_PLUGINS"] = (
        STEP_1_PLUGINS + ",api_feature_availability,api_feature_bookings")
    assert back[1][0].startswith("pip install")  # this checkout's are installed already
    first = terminal(activate + steps[2] + steps[3] + steps[4] + steps[5] + back[1][1:],
                     stdin="fawlty-towers-1975\nfawlty-towers-1975\n")
    assert first.returncode == 0, first.stderr
    terminal.start(steps[6], "8000")
    terminal.start(steps[7], "8001")

    wrote = terminal(activate + [". ~/jomreskit-site/env"] + back[2] + back[3])

    assert wrote.returncode == 0, wrote.stderr
    decoder = json.JSONDecoder()  # curl's two answers, one after the other
    closed, end = decoder.raw_decode(wrote.stdout)
    calendar, _ = decoder.raw_decode(wrote.stdout[end:].lstrip())
    [black] = closed["data"]["blackbookings"]
    assert black["room_uids"] == [2]
    room_2 = next(r for r in calendar["data"]["rooms"] if r["room_uid"] == 2)
    assert [n["status"] for n in room_2["nights"]] == ["closed"] * 3
    client_id = json.loads((terminal.home / "jomreskit-site" / "cm.json").read_text())[
        "client_id"]
    log = terminal.home / "jomreskit-site" / "responder.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and '"callback"' not in (
            log.read_text() if log.exists() else ""):
        time.sleep(0.2)
    shown = terminal(activate + back[4])
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(
        f"blackbooking_created {{'client_id': '{client_id}'}} blackbooking: True room 2 "
        f"closed on ['{black['arrival']}', "), shown.stdout


def embedding_example() -> tuple[str, list[str]]:
    """The README's embedding section: its portal.py, and its shell lines in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Embedding jomreskit in an existing Flask app", 1)[1]
    section = section.split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S)[1]
    prose = re.sub(r"```.*?```", "", section, flags=re.S)
    lines = [line[4:] for line in prose.splitlines() if line.startswith("    ")]
    return code, lines


class LateApp:
    """A WSGI app filled in once the webhook it answers for exists (it needs its secret)."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def test_the_embedding_example_runs_as_written_and_its_callbacks_work(tmp_path, serve_app):
    from jomreskit.responder import ResponderConfig, StepLog, make_app

    code, lines = embedding_example()
    port = str(free_port())
    folder = tmp_path / "portal-app"
    folder.mkdir()

    def literal(text: str) -> str:
        return text.replace("/tmp/portal", str(tmp_path / "portal")).replace("5050", port)

    (folder / "portal.py").write_text(literal(code))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOMRESKIT_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    started: list[subprocess.Popen] = []

    def run(*shell: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["bash", "-e", "-c", literal("\n".join(shell))], cwd=folder,
                                env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def start(shell: str) -> subprocess.Popen:
        started.append(subprocess.Popen(["bash", "-c", literal(shell)], cwd=folder, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, start_new_session=True))
        return started[-1]

    mkdir, upgrade, seed, serve, worker, *post = lines
    assert serve.startswith("flask --app portal run") and worker.startswith(
        "flask --app portal jomreskit worker") and post[0].startswith("curl")
    run(mkdir, upgrade, seed)
    # A remote service subscribed to the manager's webhooks (the example's reader).
    key = json.loads(run("flask --app portal jomreskit keys create --manager manager "
                         "--scope webhooks_get --json").stdout)
    late = LateApp()
    responder_url = serve_app(late) + "/"
    webhook = json.loads(run(f"flask --app portal jomreskit webhooks create --manager manager "
                             f"--url {responder_url} --authmethod none --json").stdout)
    records: list[dict] = []
    log = StepLog()
    log.listeners.append(records.append)
    late.app = make_app(ResponderConfig(
        api_url=f"http://127.0.0.1:{port}/api", client_id=key["client_id"],
        client_secret=key["client_secret"], signing_secret=webhook["secret"]), log)
    try:
        wait_for_port(int(port), start(serve))
        start(worker)

        posted = run(*post)

        assert "event" in json.loads(posted.stdout)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(r["step"] == "callback" for r in records):
            time.sleep(0.1)
        callback_url = f"http://127.0.0.1:{port}/api/webhooks/1/booking_modified/41"
        assert records[0]["body"]["callback_url"] == callback_url  # under the API it calls
        assert [(r["step"], r["ok"]) for r in records[:3]] == [
            ("received", True), ("signature", True), ("token", True)], records
        callback = records[-1]
        assert (callback["step"], callback["callback_url"]) == ("callback", callback_url)
        assert (callback["ok"], callback["status"]) == (True, 200), records
        assert callback["answer"]["data"]["contract_uid"] == 41
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            process.communicate(timeout=30)
