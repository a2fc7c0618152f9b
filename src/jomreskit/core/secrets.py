"""The site's secret key: signs sessions and encrypts stored secrets (webhook auth settings).

Given as JOMRESKIT_SECRET_KEY, or else generated once into <instance>/secret_key (mode 0600),
so a fresh site is safe without configuration and keeps working across restarts.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from .errors import JomresKitError


def site_secret_key(configured: str | None, instance_path: str) -> str:
    if configured:
        return str(configured)
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once agree on whichever key was written first.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


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
