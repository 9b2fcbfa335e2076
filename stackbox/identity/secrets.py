"""Encryption of the secrets identity stores: credential blobs (EC2 keys included) and
OAuth1 consumer secrets. Keystone encrypts credentials with Fernet keys of their own,
apart from the token keys: token keys rotate away after a few rotations, and a
credential encrypted with a dropped key could never be read again. This module does the
same with a second `KeyRepository` (`identity.credential_key_repository`). No HTTP and
no database here."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from cryptography.fernet import InvalidToken, MultiFernet

from stackbox.api import errors
from stackbox.config import Config
from stackbox.identity.tokens import KeyRepository


class SecretBox:
    """Encrypts with the primary credential key, decrypts with any of them."""

    def __init__(self, keys: KeyRepository) -> None:
        keys.ensure()
        self._fernet: MultiFernet = keys.fernet()
        primary = max(int(p.name) for p in keys.path.iterdir() if p.name.isdigit())
        self.key_hash = hashlib.sha256((keys.path / str(primary)).read_bytes().strip()).hexdigest()

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise errors.InternalError(
                "Unable to decrypt a stored credential: its key is missing."
            ) from None


_BOXES: dict[Path, SecretBox] = {}
_LOCK = threading.Lock()


def box_for(cfg: Config) -> SecretBox:
    """The process's box for the configured key repository (keys read once)."""
    path = cfg.credential_key_repository
    with _LOCK:
        box = _BOXES.get(path)
        if box is None:
            box = _BOXES[path] = SecretBox(KeyRepository(path))
        return box
