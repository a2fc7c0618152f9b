"""Errors that carry a short machine code and a message fit to show a user.

The CLI prints them as one line; the REST API turns them into its JSON error shape.
"""


class JomresKitError(Exception):
    """Base of every error jomreskit reports to a user rather than crashing on."""

    code = "error"
    #: The input field the error is about (``"departure"``), when there is one: the REST API
    #: names it in its error answer.
    field: str | None = None

    def __init__(self, message: str, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if field:
            self.field = field


class ValidationError(JomresKitError):
    """Input that does not fit: a wrong field, value or argument."""

    code = "invalid_input"


class NotFound(JomresKitError):
    """An id that names nothing (or nothing the caller may see)."""

    code = "not_found"


class PermissionDenied(JomresKitError):
    """The caller is known but may not do this."""

    code = "forbidden"


class Conflict(JomresKitError):
    """The request contradicts the current state (duplicate name, required plugin...)."""

    code = "conflict"


class EventError(ValidationError):
    """An event name or its id fields do not match the registered catalog."""

    code = "invalid_event"


class PluginError(JomresKitError):
    """A plugin cannot be loaded, validated, enabled or disabled."""

    code = "plugin_error"
