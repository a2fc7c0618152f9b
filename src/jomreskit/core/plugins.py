"""Finding, validating and loading plugins, and the registry that remembers the outcome.

Discovery is cheap (entry-point metadata and a folder listing, no import). Validation imports
every plugin and is done only by `jomreskit plugins rebuild` (and the first `db upgrade`);
it writes the registry. An app starts by importing just the plugins the registry says are
enabled and valid, so start-up costs one small query plus those imports.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pluggy
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from . import catalog, hookspecs
from .errors import PluginError
from .markers import PROJECT_NAME

log = logging.getLogger(__name__)

CORE_PLUGIN = "core"


@dataclass
class Candidate:
    """An installed plugin as discovered: not imported yet."""

    name: str
    source: str  # "entrypoint" or "file"
    module: str  # import name, or the .py file's path
    version: str = ""
    requires: list[str] = field(default_factory=list)
    core_version: str = ""


@dataclass
class Checked:
    """A candidate after import and validation."""

    candidate: Candidate
    hooks: list[str] = field(default_factory=list)
    error: str | None = None


def core_version() -> str:
    from . import __version__

    return __version__


def make_plugin_manager(trace: bool = False) -> pluggy.PluginManager:
    """A plugin manager with jomreskit's hook specs and the core's own built-in plugin."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(catalog, name=CORE_PLUGIN)
    if trace:
        pm.trace.root.setwriter(lambda message: sys.stderr.write(message))
        pm.enable_tracing()
    return pm


def discover(plugins_dir: str | Path | None) -> list[Candidate]:
    """Every installed plugin: the ``jomreskit`` entry points, then the plugins folder's files."""
    found: dict[str, Candidate] = {}
    # Each distribution's metadata read once: reading one of its fields parses the whole file.
    entry_points = [(ep, ep.dist, ep.dist.metadata) if ep.dist is not None else (ep, None, None)
                    for ep in importlib.metadata.entry_points(group=PROJECT_NAME)]
    # A plugin's requirements are the jomreskit-* distributions its package depends on.
    plugin_of_dist = {
        canonicalize_name(meta["Name"]): ep.name for ep, _, meta in entry_points if meta is not None
    }
    for ep, dist, meta in sorted(entry_points, key=lambda found: found[0].name):
        candidate = Candidate(name=ep.name, source="entrypoint", module=ep.value)
        if dist is not None and meta is not None:
            candidate.version = meta["Version"]
            for text in dist.requires or ():
                try:
                    requirement = Requirement(text)
                except InvalidRequirement:
                    continue
                if requirement.marker is not None and not requirement.marker.evaluate(
                    {"extra": ""}
                ):
                    continue
                dist_name = canonicalize_name(requirement.name)
                if dist_name == PROJECT_NAME:
                    candidate.core_version = str(requirement.specifier)
                elif dist_name.startswith(f"{PROJECT_NAME}-"):
                    candidate.requires.append(plugin_of_dist.get(dist_name, dist_name))
        found.setdefault(ep.name, candidate)
    if plugins_dir and Path(plugins_dir).is_dir():
        for path in sorted(Path(plugins_dir).glob("*.py")):
            if path.name.startswith("_"):
                continue
            if path.stem in found:
                log.warning(
                    "plugin file %s ignored: a plugin named %r is installed", path, path.stem
                )
                continue
            found[path.stem] = Candidate(name=path.stem, source="file", module=str(path))
    return list(found.values())


def import_plugin(candidate: Candidate, fresh: bool = False) -> ModuleType:
    """Import a candidate's module; a file plugin's module attributes fill in its requirements.

    ``fresh`` runs a file plugin again even if it was imported before (it may have changed).
    """
    if candidate.source == "entrypoint":
        return importlib.import_module(candidate.module)
    module_name = f"jomreskit_plugins.{candidate.name}"
    if module_name in sys.modules and not fresh:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, candidate.module)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {candidate.module}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    candidate.version = str(getattr(module, "__version__", "") or "")
    candidate.requires = list(getattr(module, "requires", ()) or ())
    candidate.core_version = str(getattr(module, "core_version", "") or "")
    return module


def check(candidates: Iterable[Candidate]) -> list[Checked]:
    """Import and validate each candidate on its own: hooks, requirements, core version.

    A plugin's hooks are checked against the core's specs and those every installed plugin
    offers (``offered_hookspecs``), so one may implement another's hook.
    """
    results = [Checked(c) for c in candidates]
    modules: dict[str, ModuleType] = {}
    for result in results:
        try:
            modules[result.candidate.name] = import_plugin(result.candidate, fresh=True)
        except BaseException as exc:  # a plugin may raise anything, even SystemExit, on import
            result.error = f"import failed: {type(exc).__name__}: {exc}"
    offered = _offered_by_all(results, modules)
    for result in results:
        if result.error is None:
            _check_one(result, modules[result.candidate.name], offered)
    valid = {r.candidate.name for r in results if r.error is None}
    for result in results:
        if result.error is None:
            missing = [name for name in result.candidate.requires if name not in valid]
            if missing:
                result.error = (
                    f"requires plugin {', '.join(missing)}, which is not installed or broken"
                )
    return results


def offered_hookspecs(module: ModuleType) -> object | None:
    """The hook specs a plugin offers other plugins: its module attribute ``hookspecs``, a
    module or class of functions marked ``@jomreskit.hookspec`` (as a pytest plugin adds its
    own with ``pytest_addhooks``). A package plugin offers them by importing its own
    ``hookspecs`` module."""
    return getattr(module, "hookspecs", None)


def _offered_by_all(results: list[Checked], modules: Mapping[str, ModuleType]) -> list[object]:
    """Every installed plugin's offered specs; a plugin whose specs name no hook, or a hook the
    core or another plugin already offers, is refused."""
    pm = make_plugin_manager()
    offered = []
    for result in results:
        module = modules.get(result.candidate.name)
        specs = None if module is None else offered_hookspecs(module)
        if specs is None:
            continue
        names = [name for name in dir(specs) if pm.parse_hookspec_opts(specs, name)]
        taken = [name for name in names if getattr(pm.hook, name, None) is not None]
        if not names:
            result.error = "its hookspecs name no hook (functions marked @jomreskit.hookspec)"
        elif taken:
            result.error = f"it offers hook {', '.join(taken)}, which is offered already"
        else:
            pm.add_hookspecs(specs)
            offered.append(specs)
    return offered


def _check_one(result: Checked, module: ModuleType, offered: list[object]) -> None:
    candidate = result.candidate
    pm = make_plugin_manager()
    for specs in offered:
        pm.add_hookspecs(specs)
    try:
        pm.register(module, name=candidate.name)
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        result.error = f"invalid hook: {exc}"
        return
    except ValueError as exc:
        result.error = str(exc)
        return
    result.hooks = sorted(
        caller.name for caller in pm.get_hookcallers(module) or () if caller.has_spec()
    )
    if candidate.core_version:
        try:
            accepted = SpecifierSet(candidate.core_version).contains(
                core_version(), prereleases=True
            )
        except InvalidSpecifier:
            result.error = f"invalid core version range {candidate.core_version!r}"
            return
        if not accepted:
            result.error = (
                f"needs jomreskit{candidate.core_version}, but {core_version()} is installed"
            )


@dataclass
class Loaded:
    """The outcome of loading plugins into a plugin manager at start-up."""

    names: list[str] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)


def load(
    pm: pluggy.PluginManager,
    records: Iterable[Mapping[str, object]],
    only: set[str] | None = None,
) -> Loaded:
    """Import and register the enabled, valid plugins of the registry, requirements first.

    A plugin that fails here (or whose requirement is not loaded) is reported and skipped:
    one broken plugin never takes the site down.
    """
    loaded = Loaded()
    pending = {
        str(r["name"]): r
        for r in records
        if r["enabled"] and not r["error"] and (only is None or r["name"] in only)
    }
    while pending:
        ready = [
            name
            for name, r in pending.items()
            if all(req in loaded.names for req in r["requires"])  # type: ignore[union-attr]
        ]
        if not ready:
            for name, r in pending.items():
                missing = [req for req in r["requires"] if req not in loaded.names]  # type: ignore[union-attr]
                loaded.problems[name] = (
                    f"not loaded: requires {', '.join(missing)}, which is not loaded"
                )
            break
        for name in sorted(ready):
            r = pending.pop(name)
            candidate = Candidate(name=name, source=str(r["source"]), module=str(r["module"]))
            try:
                module = import_plugin(candidate)
                offered = offered_hookspecs(module)
                if offered is not None:  # before any plugin that implements them is called
                    pm.add_hookspecs(offered)
                pm.register(module, name=name)
            except BaseException as exc:
                loaded.problems[name] = f"not loaded: {type(exc).__name__}: {exc}"
                log.warning("plugin %s skipped: %s", name, loaded.problems[name])
                continue
            loaded.names.append(name)
    return loaded


def dependants(records: Iterable[Mapping[str, object]], name: str) -> list[str]:
    """Enabled plugins that require ``name``."""
    return sorted(
        str(r["name"])
        for r in records
        if r["enabled"] and name in r["requires"]  # type: ignore[operator]
    )


def refuse_unknown(records: Iterable[Mapping[str, object]], name: str) -> Mapping[str, object]:
    for record in records:
        if record["name"] == name:
            return record
    if name == CORE_PLUGIN:
        raise PluginError("the core is not a plugin and cannot be disabled")
    raise PluginError(f"no plugin named {name!r}; `jomreskit plugins list` shows them")
