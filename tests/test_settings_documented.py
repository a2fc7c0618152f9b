"""Every JOMRESKIT_* setting is declared with its default, in force as declared, and listed in
docs/settings.md exactly as the code declares it (the page cannot drift)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from jomreskit.settings import document, installed

ROOT = Path(__file__).resolve().parents[1]
# Keys that are not site settings: the responder's own options, test and bench variables.
NOT_SETTINGS = re.compile(r"^JOMRESKIT_(RESPONDER_|TEST_|BENCH_)")


def declared() -> dict[str, object]:
    return {s.key: s.default for _who, settings in installed() for s in settings}


def test_docs_settings_md_is_what_the_code_declares():
    written = (ROOT / "docs" / "settings.md").read_text()

    assert written == document(), "docs/settings.md is out of date: python scripts/settings_doc.py"


def test_every_setting_the_code_reads_is_declared():
    sources = [*ROOT.glob("src/jomreskit/**/*.py"), *ROOT.glob("plugins/*/src/**/*.py")]
    read = {key for path in sources
            for key in re.findall(r"\bJOMRESKIT_[A-Z][A-Z_]*[A-Z]\b", path.read_text())}

    undeclared = sorted(k for k in read if not NOT_SETTINGS.match(k) and k not in declared())

    assert undeclared == []


def test_no_setting_is_declared_twice():
    keys = [s.key for _who, settings in installed() for s in settings]

    assert len(keys) == len(set(keys))


def test_a_site_runs_with_the_declared_defaults(make_site):
    site = make_site()
    untouched = {k: v for k, v in declared().items() if k not in (
        "JOMRESKIT_INSTANCE_PATH", "JOMRESKIT_DATABASE_URL", "JOMRESKIT_PLUGINS_DIR",
        "JOMRESKIT_SECRET_KEY", "JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS")}  # set by make_site

    assert {k: site.kit.settings[k] for k in untouched} == untouched


def test_jomreskit_settings_lists_the_core_and_the_loaded_plugins(make_site):
    listed = json.loads(make_site().cli("settings", "--json").output)
    keys = {row["key"] for row in listed}

    assert {"JOMRESKIT_SECRET_KEY", "JOMRESKIT_BASE_URL", "JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS",
            "JOMRESKIT_API_TOKEN_RATE_LIMIT", "JOMRESKIT_WEBHOOK_TIMEOUT"} <= keys
    assert {"key": "JOMRESKIT_API_TOKEN_LIFETIME", "default": 3600,
            "description": "Seconds an access token lives."} in listed


def test_the_readme_points_embedders_at_the_settings_page():
    readme = (ROOT / "README.md").read_text()
    embedding = readme.split("## Embedding jomreskit in an existing Flask app", 1)[1]
    embedding = embedding.split("\n## ", 1)[0]

    assert "docs/settings.md" in embedding
    for key in ("JOMRESKIT_SECRET_KEY", "JOMRESKIT_BASE_URL",
                "JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS"):
        assert key in embedding, key
