"""Webhook auth method basic: HTTP Basic credentials."""

from jomreskit import hookimpl  # noqa: F401  (hook implementations go below)
