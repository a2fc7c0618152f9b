"""Webhook auth method oauth: a client-credentials bearer token from the remote service."""

from jomreskit import hookimpl  # noqa: F401  (hook implementations go below)
