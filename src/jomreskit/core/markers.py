"""The project name and the pluggy markers; nothing else, so plugins can import it cheaply."""

import pluggy

PROJECT_NAME = "jomreskit"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
