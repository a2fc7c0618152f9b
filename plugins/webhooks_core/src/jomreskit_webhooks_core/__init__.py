"""Signed, reliable webhook deliveries through a transactional outbox."""

from jomreskit import hookimpl  # noqa: F401  (hook implementations go below)
