"""Each distribution installs on its own with pip: a webhooks-only site and an API-only site work.

Builds real wheels of this checkout, once, and installs them into a fresh virtual environment.
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTIONS = [ROOT, *sorted(p for p in (ROOT / "plugins").iterdir()
                               if (p / "pyproject.toml").exists() and p.name != "_template")]


def build_requirements():
    """What the distributions declare they build with ([build-system] requires)."""
    return {r for d in DISTRIBUTIONS
            for r in tomllib.loads((d / "pyproject.toml").read_text())["build-system"]["requires"]}


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("venv")
    venv.create(folder, with_pip=True)
    # What the distributions declare they build with, so that every build below can skip
    # making an isolated environment of its own (a second or more each, many times over).
    pip(folder, "install", *sorted(build_requirements()))
    return folder


@pytest.fixture(scope="module")
def building_from_checkout(tmp_path_factory):
    """Hold this while pip builds from the checkout's own folders: a build writes into the
    folder it builds (its egg-info, build/), so two test processes building one folder at
    once break each other's build. One lock for the session's processes."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the session's folder, above each worker's own

    @contextmanager
    def locked():
        with open(shared / "building-from-checkout.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield shared  # closing the file lets go of the lock

    return locked


@pytest.fixture(scope="module")
def wheels(clean_venv, building_from_checkout):
    """The wheel of each distribution of this checkout, by its folder name ("jomreskit" for
    the core): what `pip install FOLDER` would build, built once for the whole session."""
    with building_from_checkout() as shared:
        folder = shared / "wheels"
        if not folder.is_dir():
            pip(clean_venv, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir",
                str(shared / "wheels-building"), *map(str, DISTRIBUTIONS))
            (shared / "wheels-building").rename(folder)  # whole, or not there at all
    built = {path.name.split("-")[0]: path for path in folder.glob("*.whl")}
    by_folder = {"jomreskit": built["jomreskit"]}
    return by_folder | {d.name: built[f"jomreskit_{d.name}"] for d in DISTRIBUTIONS[1:]}


def install(venv_dir, wheels, *names):
    pip(venv_dir, "install", *(str(wheels[name]) for name in names))


def run(venv_dir, *args, instance=None, check=True, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOMRESKIT_")}
    env["PATH"] = f"{venv_dir / 'bin'}{os.pathsep}{env['PATH']}"
    if instance:
        env["JOMRESKIT_INSTANCE_PATH"] = str(instance)
    result = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd or venv_dir)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def pip(venv_dir, *args):
    run(
        venv_dir,
        str(venv_dir / "bin" / "python"),
        "-m",
        "pip",
        "--quiet",
        "--disable-pip-version-check",
        *args,
    )


def plugin_names(venv_dir, instance):
    run(venv_dir, "jomreskit", "db", "upgrade", instance=instance)
    result = run(venv_dir, "jomreskit", "plugins", "list", "--json", instance=instance)
    return {row["name"]: row for row in json.loads(result.stdout)}


def importable(venv_dir, module):
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return run(venv_dir, str(venv_dir / "bin" / "python"), "-c", code, check=False).returncode == 0


def test_a_webhooks_only_site_then_an_api_only_site(clean_venv, wheels, tmp_path):
    install(clean_venv, wheels, "jomreskit", "webhooks_core", "authmethod_none")

    rows = plugin_names(clean_venv, tmp_path / "webhooks_site")

    assert set(rows) == {"webhooks_core", "authmethod_none"}
    assert all(row["error"] is None and row["enabled"] for row in rows.values())
    assert not importable(clean_venv, "jomreskit_api_core")

    pip(clean_venv, "uninstall", "--yes", "jomreskit-webhooks-core", "jomreskit-authmethod-none")
    install(clean_venv, wheels, "api_core", "api_feature_webhooks")

    rows = plugin_names(clean_venv, tmp_path / "api_site")

    assert set(rows) == {"api_core", "api_feature_webhooks"}
    assert rows["api_feature_webhooks"]["requires"] == ["api_core"]
    assert all(row["error"] is None for row in rows.values())
    assert not importable(clean_venv, "jomreskit_webhooks_core")


def test_each_writing_plugin_installs_alone_beside_api_core(clean_venv, wheels, tmp_path):
    pip(clean_venv, "uninstall", "--yes", "jomreskit-api-feature-webhooks",
        "jomreskit-webhooks-core", "jomreskit-authmethod-none")
    for name in ("api_feature_availability", "api_feature_bookings"):
        install(clean_venv, wheels, "jomreskit", "api_core", name)

        rows = plugin_names(clean_venv, tmp_path / name)

        assert set(rows) == {"api_core", name}
        assert rows[name]["requires"] == ["api_core"]
        assert all(row["error"] is None and row["enabled"] for row in rows.values())
        pip(clean_venv, "uninstall", "--yes", "jomreskit-" + name.replace("_", "-"))


def run_tests_in(venv_dir, folder):
    """Run a distribution's own tests with the environment's pytest, from its own folder, as
    its author would: jomreskit's fixtures must come from the installed entry point."""
    result = run(venv_dir, str(venv_dir / "bin" / "python"), "-m", "pytest", "-q",
                 "-p", "no:cacheprovider", str(folder), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_homeaway_example_is_a_distribution_whose_own_tests_pass(
        clean_venv, wheels, tmp_path):
    example = shutil.copytree(ROOT / "examples/authmethod_homeaway", tmp_path / "homeaway")
    install(clean_venv, wheels, "jomreskit", "webhooks_core")
    pip(clean_venv, "install", "--no-build-isolation", f"{example}[test]")

    rows = plugin_names(clean_venv, tmp_path / "site")
    output = run_tests_in(clean_venv, example)

    assert rows["authmethod_homeaway"]["hooks"] == ["register_authmethods"]
    assert rows["authmethod_homeaway"]["error"] is None
    assert "3 passed" in output
    pip(clean_venv, "uninstall", "--yes", "jomreskit-authmethod-homeaway",
        "jomreskit-webhooks-core")


# Each kind's tests, as many as pass on SQLite (the environment sets no PostgreSQL).
KIND_TESTS = {"event_reaction": 3, "authmethod": 3, "api_feature": 4, "console_page": 2}


def test_each_kind_of_new_plugin_made_anywhere_installs_from_its_folder_and_passes(
        clean_venv, building_from_checkout, tmp_path):
    for kind, tests in KIND_TESTS.items():
        folder = tmp_path / "elsewhere" / f"my_{kind}"
        made = subprocess.run([sys.executable, str(ROOT / "scripts/new_plugin.py"), f"my_{kind}",
                               "Made to be tried", "--kind", kind, "--dest", str(folder)],
                              capture_output=True, text=True)
        assert made.returncode == 0, made.stderr

        # As its README says: from its folder, what it needs from this checkout, then itself
        # (with the build requirements the environment has already).
        with building_from_checkout():  # editable installs of the checkout's folders
            run(clean_venv, str(clean_venv / "bin" / "python"), "-m", "pip", "install",
                "--quiet", "--disable-pip-version-check", "--no-build-isolation", "-r",
                "requirements-dev.txt", cwd=folder)
        output = run_tests_in(clean_venv, folder)

        assert f"{tests} passed" in output, (kind, output)
        rows = plugin_names(clean_venv, tmp_path / f"site_{kind}")
        assert rows[f"my_{kind}"]["error"] is None
        pip(clean_venv, "uninstall", "--yes", f"jomreskit-my-{kind.replace('_', '-')}")


def test_new_plugin_refuses_a_bad_name_or_an_existing_folder(tmp_path):
    script = [sys.executable, str(ROOT / "scripts/new_plugin.py")]
    bad = subprocess.run([*script, "Channel-Sync", "x", "--dest", str(tmp_path / "a")],
                         capture_output=True, text=True)
    taken = subprocess.run([*script, "channel_sync", "x", "--dest", str(tmp_path)],
                           capture_output=True, text=True)

    assert bad.returncode == 2 and "NAME must be lower case" in bad.stderr
    assert taken.returncode == 1 and "exists already" in taken.stderr
    assert not (tmp_path / "a").exists()


def test_make_setup_installs_what_every_distribution_builds_with():
    # `make setup` builds without isolation, in .venv: what it installs first must be what
    # the pyproject.toml files ask for, or a package would build with what happens to be there.
    line = next(line for line in (ROOT / "Makefile").read_text().splitlines()
                if line.startswith("BUILD_REQUIRES :="))
    assert set(line.removeprefix("BUILD_REQUIRES :=").split()) == build_requirements()
