"""Create a plugin distribution from plugins/_template, here or anywhere.

    python scripts/new_plugin.py NAME "One-line description" [--kind KIND] [--dest FOLDER]

NAME is the plugin's name (channel_sync); the distribution becomes jomreskit-channel-sync and
the import package jomreskit_channel_sync. Without --dest the folder is plugins/NAME of this
project. KIND is what the plugin starts as, each with hooks that work and tests that prove
them on a real site:

  event_reaction  reacts to events in the change's own transaction (a note on each cancelled
                  booking), and registers an event of its own [the default]
  authmethod      a webhook auth method (a partner token header on every delivery)
  api_feature     a REST API route with its own scope (a property's rooms)
  console_page    a page of the web console in the managers' Account menu

jomreskit is installed from this checkout, not from PyPI: the new folder's
requirements-dev.txt installs the core and the plugins it needs from here, then the plugin
with its test extras (`pip install -r requirements-dev.txt`, then `pytest`).
"""

import argparse
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "plugins" / "_template"
CORE = "jomreskit>=0.1,<0.2"


@dataclass(frozen=True)
class Kind:
    what: str
    requires: tuple[str, ...] = ()  # jomreskit plugins it imports, besides the core
    test_requires: tuple[str, ...] = ()  # what its tests need besides pytest


KINDS = {
    "event_reaction": Kind("an event reaction"),
    "authmethod": Kind("a webhook auth method",
                       test_requires=("jomreskit-webhooks-core>=0.1", "standardwebhooks>=1.0")),
    "api_feature": Kind("a REST API feature", requires=("jomreskit-api-core>=0.1",)),
    "console_page": Kind("a web console page"),
}


def _listed(requirements: list[str]) -> str:
    return ", ".join(f'"{r}"' for r in requirements)


def _checkout_folder(requirement: str) -> Path | None:
    """Where a jomreskit distribution lives in this checkout (None: not one of ours)."""
    name = re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0]
    if name == "jomreskit":
        return ROOT
    if name.startswith("jomreskit-"):
        return ROOT / "plugins" / name.removeprefix("jomreskit-").replace("-", "_")
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Create a jomreskit plugin distribution.")
    parser.add_argument("name", help="the plugin's name, like channel_sync")
    parser.add_argument("description", help="one line: what the plugin does")
    parser.add_argument("--kind", choices=sorted(KINDS), default="event_reaction",
                        help="what it starts as [default: event_reaction]")
    parser.add_argument("--dest", type=Path, help="the new folder [default: plugins/NAME]")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", args.name):
        parser.exit(2, f"error: NAME must be lower case letters, digits and _ (like "
                       f"channel_sync), not {args.name!r}\n")
    target = (args.dest or ROOT / "plugins" / args.name).resolve()
    if target.exists():
        parser.exit(1, f"error: {target} exists already\n")
    kind = KINDS[args.kind]
    requires = [CORE, *kind.requires]
    test_requires = ["pytest>=8", *kind.test_requires]
    dist = args.name.replace("_", "-")
    words = {
        "__plugin__": args.name, "__dist__": dist, "__description__": args.description,
        "__title__": args.name.replace("_", " ").capitalize(), "__kind__": kind.what,
        '"__dependencies__"': _listed(requires),
        '"__test_dependencies__"': _listed(test_requires),
        "__install__": " ".join([*(r.split(">")[0] for r in kind.requires), f"jomreskit-{dist}"]),
    }

    shutil.copytree(TEMPLATE, target, ignore=shutil.ignore_patterns("kinds"))
    shutil.copytree(TEMPLATE / "kinds" / args.kind, target, dirs_exist_ok=True)
    for path in sorted(target.rglob("*"), reverse=True):  # children before their folders
        if path.is_file():
            text = path.read_text()
            for word, value in words.items():
                text = text.replace(word, value)
            path.write_text(text)
        if "__plugin__" in path.name:
            path.rename(path.with_name(path.name.replace("__plugin__", args.name)))
    # Editable installs from this checkout first, so `.[test]` finds what it requires.
    # The core with its PostgreSQL driver, for the tests' second run on JOMRESKIT_TEST_POSTGRES_URL.
    from_checkout = [f"-e {folder}[postgres]" if folder == ROOT else f"-e {folder}"
                     for folder in dict.fromkeys(_checkout_folder(r) for r in
                                                 [*requires, *test_requires])
                     if folder is not None]
    (target / "requirements-dev.txt").write_text(
        f"# jomreskit and the plugins {args.name} needs, from the checkout it was made from\n"
        "# (they are not on PyPI), then this folder with its test extras. From this folder:\n"
        "#   pip install -r requirements-dev.txt\n" + "\n".join([*from_checkout, "-e .[test]"])
        + "\n")
    print(f"created {target} ({kind.what})")
    print(f"  cd {target} && pip install -r requirements-dev.txt && pytest")
    if target.parent == ROOT / "plugins":
        print("add it to PLUGINS in the Makefile to install it with the others")


if __name__ == "__main__":
    sys.exit(main())
