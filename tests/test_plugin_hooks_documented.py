"""Every hook spec is documented in docs/plugin_hooks.md under a heading with its signature."""

import inspect
import re
from pathlib import Path

import pytest

from jomreskit.core import hookspecs

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugin_hooks.md"


def spec_names():
    return sorted(
        name
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, "jomreskit_spec")
    )


def documented_headings():
    return {
        match.group(1): match.group(0)[3:].strip()
        for match in re.finditer(r"^## (\w+)\(.*\)$", DOC.read_text(), re.MULTILINE)
    }


@pytest.mark.parametrize("name", spec_names())
def test_hook_is_documented_with_its_signature(name):
    spec = getattr(hookspecs, name)
    signature = f"{name}({', '.join(inspect.signature(spec).parameters)})"
    headings = documented_headings()
    assert name in headings, f"docs/plugin_hooks.md has no heading for {name}"
    assert headings[name] == signature


def test_no_documented_hook_is_missing_from_the_specs():
    assert set(documented_headings()) == set(spec_names())


PUBLIC_MODULES = ["jomreskit", "jomreskit.db", "jomreskit.domain", "jomreskit.cli",
                  "jomreskit.console", "jomreskit.testing"]


def public_surface_rows():
    """{module: the names its row of the public-surface table shows in backticks}."""
    rows = {}
    for match in re.finditer(r"^\| `([\w.]+)` \| (.*) \|$", DOC.read_text(), re.MULTILINE):
        rows[match.group(1)] = set(re.findall(r"`(\w+)(?:\(.*?\))?`", match.group(2)))
    return rows


def test_the_public_surface_table_lists_each_public_module():
    assert list(public_surface_rows()) == PUBLIC_MODULES


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_name_of_the_public_surface_is_documented_and_exists(module_name):
    import importlib

    module = importlib.import_module(module_name)
    documented = public_surface_rows()[module_name]
    exported = set(getattr(module, "__all__", ()))
    assert exported <= documented, f"undocumented: {sorted(exported - documented)}"
    # A row may name a hook, a Kit method or a sub-module in passing.
    in_passing = set(spec_names()) | {"session", "fire", "settings", "transaction", "testing"}
    missing = {name for name in documented - in_passing if not hasattr(module, name)}
    assert not missing, f"documented but not in {module_name}: {sorted(missing)}"
