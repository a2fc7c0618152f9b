"""The webhook callback endpoint: the full record an event is about."""

from jomreskit import hookimpl  # noqa: F401  (hook implementations go below)
