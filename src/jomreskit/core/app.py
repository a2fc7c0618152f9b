"""``create_app``: a complete jomreskit site as a Flask app."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from .config import STANDALONE_APP_NAME
from .kit import JomresKit


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a standalone site. ``config`` keys override the environment's JOMRESKIT_* values."""
    config = dict(config or {})
    instance = config.get("JOMRESKIT_INSTANCE_PATH") or os.environ.get(
        "JOMRESKIT_INSTANCE_PATH", "instance"
    )
    instance = str(Path(instance).resolve())
    config["JOMRESKIT_INSTANCE_PATH"] = instance
    app = Flask(STANDALONE_APP_NAME, instance_path=instance)
    app.config.update(config)
    JomresKit(app)
    return app
