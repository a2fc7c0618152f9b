"""__description__"""

from jomreskit import hookimpl  # noqa: F401  (hook implementations go below)
