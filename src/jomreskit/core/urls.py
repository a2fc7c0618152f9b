"""The one check of an http(s) URL someone types in (a webhook's URL, an auth method's token
URL): done when it is saved, so a URL that could never be sent to is refused at once, with
one clear message, rather than at send time."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from .errors import ValidationError

MAX_LENGTH = 2000
# One label of a host name (underscores too: some private networks' names have them).
LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$", re.IGNORECASE)


def check_http_url(url: str | None, what: str = "the URL", code: str = "invalid_url") -> str:
    """``url`` without surrounding blanks if it is an absolute http(s) URL a request could be
    sent to; ValidationError saying what is wrong otherwise."""
    text = (url or "").strip()
    reason = _problem(text)
    if reason:
        raise ValidationError(f"{what} {text!r} is not a usable http(s) URL: {reason}", code=code)
    return text


def _problem(url: str) -> str | None:
    if not url:
        return "it is empty"
    if len(url) > MAX_LENGTH:
        return f"it is longer than {MAX_LENGTH} characters"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return "it has a space or a control character in it"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return _split_error(str(exc))
    if parts.scheme.lower() not in ("http", "https"):
        return "it must start with http:// or https://"
    host = parts.hostname
    if not host:
        return "it has no host name"
    if parts.username is not None or parts.password is not None:
        return "credentials belong in the auth method's settings, not in the URL"
    if port == 0:
        return "port 0 cannot be sent to"
    if "[" in parts.netloc:
        return None  # a bracketed IPv6 address, which urlsplit has checked
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return f"{host!r} is not a valid host name"
    if not all(LABEL.match(label) for label in ascii_host.rstrip(".").split(".")):
        return f"{host!r} is not a valid host name"
    return None


def _split_error(message: str) -> str:
    if message.startswith("Port out of range"):
        return "the port must be between 1 and 65535"
    if message.startswith("Port could not be cast"):
        return "the port must be a number"
    if "IPv6" in message or "IPv4" in message:
        return "the address in [brackets] is not a valid IPv6 address"
    return message
