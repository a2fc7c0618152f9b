"""OAuth2 API keys per manager and the REST API framework."""

from jomreskit import hookimpl  # noqa: F401  (hook implementations go below)
