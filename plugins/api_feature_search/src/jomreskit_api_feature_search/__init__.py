"""Read-only property search for super managers."""

from jomreskit import hookimpl  # noqa: F401  (hook implementations go below)
