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
