"""The site's secret key: signs sessions and encrypts stored secrets (webhook auth settings).

Given as JOMRESKIT_SECRET_KEY, or else generated once into <instance>/secret_key (mode 0600),
so a fresh site is safe without configuration and keeps working across restarts.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from .errors import JomresKitError

SHORTEST_FILE_KEY = 32  # a key file with less was cut short or written by hand: refuse it


def site_secret_key(configured: str | None, instance_path: str) -> str:
    """The configured key, or the instance's key file's, created on first use."""
    if configured:
        return str(configured)
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        _create_key_file(path)
    key = path.read_text().strip()
    if len(key) < SHORTEST_FILE_KEY:
        raise JomresKitError(
            f"the site's key file {path} is {'empty' if not key else 'too short'}: restore it "
            "from a backup, or set JOMRESKIT_SECRET_KEY (every process of the site needs the "
            "same key); deleting it makes stored secrets unreadable", code="secret_key_invalid")
    return key


def _create_key_file(path: Path) -> None:
    """Write a new key where none is, whole or not at all: the key goes to a temporary file
    first, then is linked into place, which fails if another process got there first (its
    key is then the site's). A reader never sees an empty or half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd, temporary = tempfile.mkstemp(prefix=".secret_key.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)


class SecretBox:
    """Encrypts short secrets for storage with a key derived from the site's secret key."""

    def __init__(self, secret_key: str) -> None:
        derived = hashlib.sha256(b"jomreskit-secret-box:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise JomresKitError(
                "a stored secret cannot be decrypted: was JOMRESKIT_SECRET_KEY changed?",
                code="secret_unreadable",
            ) from None
