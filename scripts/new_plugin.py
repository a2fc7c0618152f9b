"""Create a plugin distribution under plugins/ from plugins/_template.

    python scripts/new_plugin.py NAME "One-line description"

NAME is the plugin's name (api_core); the distribution becomes jomreskit-api-core and the
import package jomreskit_api_core.
"""

import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    if len(sys.argv) != 3 or not re.fullmatch(r"[a-z][a-z0-9_]*", sys.argv[1]):
        sys.exit("usage: python scripts/new_plugin.py NAME 'description' (NAME like api_core)")
    name, description = sys.argv[1], sys.argv[2]
    target = ROOT / "plugins" / name
    if target.exists():
        sys.exit(f"{target} exists already")
    shutil.copytree(ROOT / "plugins" / "_template", target)
    for path in sorted(target.rglob("*"), reverse=True):  # children before their folders
        if path.is_file():
            text = path.read_text()
            text = text.replace("__dist__", name.replace("_", "-"))
            text = text.replace("__description__", description).replace("__name__", name)
            path.write_text(text)
        if "__name__" in path.name:
            path.rename(path.with_name(path.name.replace("__name__", name)))
    print(f"created {target.relative_to(ROOT)}; add it to PLUGINS in the Makefile")


if __name__ == "__main__":
    main()
