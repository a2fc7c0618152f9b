"""jomreskit: a REST API with OAuth2 API keys and signed webhooks for booking portals."""

__version__ = "0.1.0"

from .core.app import create_app  # noqa: E402
from .core.authmethods import AuthMethod, SettingField  # noqa: E402
from .core.config import SiteSetting  # noqa: E402
from .core.errors import JomresKitError  # noqa: E402
from .core.events import Event, EventType  # noqa: E402
from .core.kit import JomresKit, Kit, get_kit  # noqa: E402
from .core.markers import hookimpl  # noqa: E402
from .core.scopes import Scope  # noqa: E402

__all__ = [
    "AuthMethod",
    "Event",
    "EventType",
    "JomresKit",
    "JomresKitError",
    "Kit",
    "Scope",
    "SettingField",
    "SiteSetting",
    "__version__",
    "create_app",
    "get_kit",
    "hookimpl",
]
