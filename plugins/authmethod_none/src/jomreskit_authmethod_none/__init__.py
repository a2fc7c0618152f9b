"""Webhook auth method none: no credentials."""

from jomreskit import hookimpl  # noqa: F401  (hook implementations go below)
