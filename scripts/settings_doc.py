"""Write docs/settings.md from the settings the core and every installed plugin declare.

    python scripts/settings_doc.py

tests/test_settings_documented.py fails when the page differs from what this writes.
"""

from pathlib import Path

from jomreskit.settings import document

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    target = ROOT / "docs" / "settings.md"
    target.write_text(document())
    print(f"wrote {target.relative_to(ROOT)}")
