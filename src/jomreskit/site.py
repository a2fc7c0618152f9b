"""Site assembly: the Flask extension and ``create_app``.

The core's inner layer (``jomreskit.core``) sets up the runtime; this outer layer adds what a
whole site has around it: the web console and the `jomreskit` command group.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.orm import scoped_session

from .cli import make_cli
from .console.mount import init_console
from .core.config import STANDALONE_APP_NAME
from .core.events import Event
from .core.kit import Kit, get_kit, start_kit


class JomresKit:
    """The Flask extension: ``JomresKit(app)`` or ``kit = JomresKit(); kit.init_app(app)``.

    ``session``: the host app's scoped session, e.g. ``JomresKit(app, session=db.session)``
    with Flask-SQLAlchemy. jomreskit then works in the host's transaction on the host's
    database: the host's commit covers its own change, the events it fired and the webhook
    deliveries they queued, and a rollback removes them all. Without it jomreskit keeps its
    own engine and sessions on ``JOMRESKIT_DATABASE_URL``.
    """

    def __init__(self, app: Flask | None = None, *, session: scoped_session | None = None) -> None:
        self._host_session = session
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, session: scoped_session | None = None) -> None:
        kit = start_kit(app, session if session is not None else self._host_session)
        init_console(kit, app)
        kit.cli = make_cli(kit)
        app.cli.add_command(kit.cli, "jomreskit")

    @property
    def kit(self) -> Kit:
        """The runtime of the current app."""
        return get_kit()

    def fire(self, name: str, **ids: int) -> Event:
        """Fire an event on the current app; see ``Kit.fire``."""
        return get_kit().fire(name, **ids)


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
