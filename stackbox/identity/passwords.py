"""Password hashing with argon2id (a memory-hard KDF; PHC string format in the DB)."""

from __future__ import annotations

import argon2

_hasher: argon2.PasswordHasher | None = None


def configure(time_cost: int = 2, memory_kib: int = 19456) -> None:
    """Set the KDF cost (OWASP's argon2id minimum by default)."""
    global _hasher
    _hasher = argon2.PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def _h() -> argon2.PasswordHasher:
    if _hasher is None:
        configure()
    assert _hasher is not None
    return _hasher


def hash_password(password: str) -> str:
    return _h().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches. Runs the KDF even without a stored hash, so a
    missing user costs as much time as a wrong password."""
    try:
        if stored is None:
            _h().hash(password)
            return False
        return _h().verify(stored, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False
