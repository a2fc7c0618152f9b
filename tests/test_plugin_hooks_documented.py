"""Every hook spec is documented under a heading with its signature: the core's in
docs/plugin_hooks.md, those a plugin offers in that plugin's README."""

import inspect
import re
from pathlib import Path

import pytest

from jomreskit.core import hookspecs, plugins

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugin_hooks.md"


def spec_names(namespace=hookspecs):
    return sorted(name for name in dir(namespace)
                  if hasattr(getattr(namespace, name), "jomreskit_spec"))


def documented_headings(doc=DOC):
    """{hook name: signature} of the headings (any level) that are a hook's signature."""
    return {
        match.group(1): match.group(0).lstrip("#").strip()
        for match in re.finditer(r"^#+ (\w+)\(.*\)$", doc.read_text(), re.MULTILINE)
    }


def offering_plugins():
    """{plugin name: (its offered specs, its README)} of the installed plugins that offer hooks."""
    offering = {}
    for candidate in plugins.discover(None):
        module = plugins.import_plugin(candidate)
        specs = plugins.offered_hookspecs(module)
        if specs is not None:
            offering[candidate.name] = (specs, Path(module.__file__).parents[2] / "README.md")
    return offering


def every_spec():
    """(where it is documented, namespace, hook name) for the core's specs and the offered."""
    found = [(DOC, hookspecs, name) for name in spec_names()]
    for specs, readme in offering_plugins().values():
        found += [(readme, specs, name) for name in spec_names(specs)]
    return found


def test_the_plugins_that_call_a_hook_offer_its_spec():
    offered = {name: spec_names(specs) for name, (specs, _readme) in offering_plugins().items()}
    assert offered["api_core"] == ["api_key_columns", "register_api_routes"]
    assert offered["api_feature_webhooks"] == ["register_event_callbacks"]


@pytest.mark.parametrize(("doc", "namespace", "name"), every_spec(),
                         ids=[name for _doc, _namespace, name in every_spec()])
def test_hook_is_documented_with_its_signature(doc, namespace, name):
    spec = getattr(namespace, name)
    signature = f"{name}({', '.join(inspect.signature(spec).parameters)})"
    headings = documented_headings(doc)
    assert name in headings, f"{doc} has no heading for {name}"
    assert headings[name] == signature


def test_no_documented_hook_is_missing_from_the_specs():
    assert set(documented_headings()) == set(spec_names())


@pytest.mark.parametrize("plugin", sorted(offering_plugins()))
def test_no_hook_documented_in_an_offering_plugins_readme_is_missing_from_its_specs(plugin):
    specs, readme = offering_plugins()[plugin]
    assert set(documented_headings(readme)) == set(spec_names(specs))


PUBLIC_MODULES = ["jomreskit", "jomreskit.db", "jomreskit.tracing", "jomreskit.domain",
                  "jomreskit.cli", "jomreskit.console", "jomreskit.testing"]


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
