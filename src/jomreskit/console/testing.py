"""Helpers for testing console pages with Flask's test client (the console's tests and plugins'
tests of their own pages use them alike)."""

from __future__ import annotations

import html
import re
from typing import Any


def token_in(page: Any) -> str:
    """The CSRF token of the forms on ``page`` (a test client response)."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def flashes(page: Any) -> list[str]:
    """The flash messages ``page`` shows, as text."""
    found = re.findall(r'<p class="flash [^"]*"[^>]*>(.*?)</p>', page.get_data(as_text=True), re.S)
    return [html.unescape(text.strip()) for text in found]


def menu(page: Any) -> list[str]:
    """The page titles in the Account menu of ``page`` (empty when signed out)."""
    text = page.get_data(as_text=True)
    nav = re.search(r'<nav aria-label="Account">(.*?)</nav>', text, re.S)
    if not nav:
        return []
    return [html.unescape(t.strip()) for t in re.findall(r"<a [^>]*>([^<]*)</a>", nav.group(1))]


def sign_in(client: Any, username: str, password: str | None = None,
            prefix: str = "/console", **extra: str) -> Any:
    """Open the sign-in page and send it as a person would (the demo users' passwords are their
    usernames, the default here); returns the answer, not followed."""
    page = client.get(f"{prefix}/sign-in")
    form = {"username": username, "password": username if password is None else password,
            "csrf_token": token_in(page), **extra}
    return client.post(f"{prefix}/sign-in", data=form)
