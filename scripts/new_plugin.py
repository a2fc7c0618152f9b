"""Create a plugin distribution from plugins/_template, here or anywhere.

    python scripts/new_plugin.py NAME "One-line description" [--dest FOLDER]

NAME is the plugin's name (channel_sync); the distribution becomes jomreskit-channel-sync and
the import package jomreskit_channel_sync. Without --dest the folder is plugins/NAME of this
project. The plugin starts with one hook (an event it registers) and a test that fires it on
a real site: `pip install -e FOLDER`, then `pytest FOLDER`.
"""

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "plugins" / "_template"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Create a jomreskit plugin distribution.")
    parser.add_argument("name", help="the plugin's name, like channel_sync")
    parser.add_argument("description", help="one line: what the plugin does")
    parser.add_argument("--dest", type=Path, help="the new folder [default: plugins/NAME]")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", args.name):
        parser.exit(2, f"error: NAME must be lower case letters, digits and _ (like "
                       f"channel_sync), not {args.name!r}\n")
    target = (args.dest or ROOT / "plugins" / args.name).resolve()
    if target.exists():
        parser.exit(1, f"error: {target} exists already\n")
    shutil.copytree(TEMPLATE, target)
    for path in sorted(target.rglob("*"), reverse=True):  # children before their folders
        if path.is_file():
            text = path.read_text()
            text = text.replace("__dist__", args.name.replace("_", "-"))
            text = text.replace("__description__", args.description)
            path.write_text(text.replace("__name__", args.name))
        if "__name__" in path.name:
            path.rename(path.with_name(path.name.replace("__name__", args.name)))
    print(f"created {target}")
    if target.parent == ROOT / "plugins":
        print("add it to PLUGINS in the Makefile to install it with the others")


if __name__ == "__main__":
    sys.exit(main())
