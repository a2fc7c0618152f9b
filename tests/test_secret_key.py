"""The instance's key file: written whole by whichever process starts first, never used
empty or cut short."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jomreskit.core.errors import JomresKitError
from jomreskit.core.secrets import site_secret_key

JOMRESKIT = str(Path(sys.executable).parent / "jomreskit")


def _read_key(folder: str, barrier, results) -> None:
    barrier.wait()
    try:
        results.put(site_secret_key(None, folder))
    except Exception as exc:  # reported to the test, not lost in the child
        results.put(f"error: {exc}")


def test_processes_starting_together_share_one_whole_key(tmp_path):
    context = multiprocessing.get_context("fork")
    for round_ in range(25):
        folder = str(tmp_path / f"site{round_}")
        barrier = context.Barrier(6)
        results = context.Queue()
        processes = [context.Process(target=_read_key, args=(folder, barrier, results))
                     for _ in range(6)]
        for process in processes:
            process.start()
        keys = {results.get(timeout=30) for _ in processes}
        for process in processes:
            process.join()
        assert len(keys) == 1, keys
        [key] = keys
        assert len(key) == 64
        assert (Path(folder) / "secret_key").read_text() == key
        assert oct(os.stat(Path(folder) / "secret_key").st_mode & 0o777) == "0o600"
        assert [p.name for p in Path(folder).iterdir()] == ["secret_key"]  # no leftovers


@pytest.mark.parametrize("content", ["", "abc\n"])
def test_an_empty_or_short_key_file_is_refused(tmp_path, content):
    (tmp_path / "secret_key").write_text(content)
    with pytest.raises(JomresKitError, match="key file .* is (empty|too short)"):
        site_secret_key(None, str(tmp_path))


def test_the_command_line_says_so_in_one_line(tmp_path):
    (tmp_path / "secret_key").write_text("")
    env = {**os.environ, "JOMRESKIT_INSTANCE_PATH": str(tmp_path)}
    env.pop("JOMRESKIT_SECRET_KEY", None)
    env.pop("JOMRESKIT_DATABASE_URL", None)
    # The key is read once there is something to keep: a set-up site.
    upgrade = subprocess.run([JOMRESKIT, "db", "upgrade"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert upgrade.returncode == 0, upgrade.stderr
    result = subprocess.run([JOMRESKIT, "serve", "--port", "0"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "secret_key is empty" in result.stderr
