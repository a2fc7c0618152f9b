"""Every JOMRESKIT_* setting in one place: the core's and each installed plugin's, as they
declare them (``SiteSetting``, ``register_settings``), for `jomreskit settings` and for
docs/settings.md, which ``scripts/settings_doc.py`` writes and a test keeps in step."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .core import plugins
from .core.config import CORE_SETTINGS, SiteSetting

INTRO = """\
# Settings

Every setting a site or an app that embeds jomreskit may set, with its default. Each is a key
of the Flask config (`app.config["JOMRESKIT_..."]`) or an environment variable of the same
name; the app's config wins over the environment. Values from the environment are read as
JSON when they parse as JSON (numbers, `true`, `false`), else as text. `jomreskit settings`
lists those of the plugins a site has loaded.

This page is written by `python scripts/settings_doc.py` from what the core and each plugin
declare (`SiteSetting`, the `register_settings` hook); a test fails when it is out of date.
"""


def installed() -> list[tuple[str, list[SiteSetting]]]:
    """(who, their settings) for the core and every installed plugin that declares some."""
    found: list[tuple[str, list[SiteSetting]]] = [("core", list(CORE_SETTINGS))]
    for candidate in sorted(plugins.discover(None), key=lambda c: c.name):
        module = plugins.import_plugin(candidate)
        declare = getattr(module, "register_settings", None)
        if declare is not None:
            found.append((f"plugin {candidate.name}", list(declare())))
    return found


def shown_default(value: Any) -> str:
    if value is None:
        return "unset"
    return f"`{json.dumps(value)}`" if isinstance(value, bool | str) else f"`{value}`"


def table(settings: Iterable[SiteSetting]) -> list[str]:
    lines = ["| key | default | what it does |", "| --- | --- | --- |"]
    lines += [f"| `{s.key}` | {shown_default(s.default)} | {s.description} |" for s in settings]
    return lines


def document() -> str:
    """docs/settings.md as the code declares it now."""
    lines = [INTRO]
    for who, settings in installed():
        lines += [f"## {who}", "", *table(settings), ""]
    return "\n".join(lines)
