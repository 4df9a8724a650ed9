"""Password hashing with argon2id."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults are RFC 9106's "low memory" argon2id profile (m=64 MiB, t=3,
# p=4), above OWASP's minimum (m=19 MiB, t=2, p=1); tests/unit/test_password_hashes.py
# reads the parameters back from a stored hash
_hasher = PasswordHasher()

MIN_LENGTH = 8


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"password must be at least {MIN_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def rehashed(password_hash: str, password: str) -> str | None:
    """After a successful ``verify_password``: a hash with today's parameters when the
    stored one was made with others (weaker, from an older version), else None. The
    length rule is not applied: the password is already the user's."""
    try:
        if not _hasher.check_needs_rehash(password_hash):
            return None
    except InvalidHashError:
        return None
    return _hasher.hash(password)


def generate_password() -> str:
    """A password people can read out over the phone: no look-alike characters."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))
