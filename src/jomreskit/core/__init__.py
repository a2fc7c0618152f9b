"""The core's inner layer: hook specs, plugin manager and registry, events, domain, storage.

It imports nothing of jomreskit outside itself (the site assembly, the CLI, the console, the
case-study tools); `make lint` holds that rule with import-linter (.importlinter).
"""

__version__ = "0.1.0"
