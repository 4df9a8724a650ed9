"""Stored password hashes: argon2id with at least OWASP's minimum cost, and a hash made
with weaker parameters is replaced at the next successful sign-in
(tests/integration/test_password_rehash.py shows that through the login form)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher

from callcenter.passwords import hash_password, rehashed, verify_password

# OWASP Password Storage Cheat Sheet, argon2id: m=19456 (19 MiB), t=2, p=1 at least
OWASP_MEMORY_KIB, OWASP_TIME, OWASP_PARALLELISM = 19456, 2, 1
_ARGON2 = re.compile(
    r"^\$(?P<type>argon2\w+)\$v=(?P<v>\d+)\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)\$"
)


def parameters(password_hash: str) -> dict[str, str]:
    found = _ARGON2.match(password_hash)
    assert found, password_hash
    return found.groupdict()


def meets_owasp(password_hash: str) -> bool:
    p = parameters(password_hash)
    return (
        p["type"] == "argon2id"
        and int(p["v"]) == 19
        and int(p["m"]) >= OWASP_MEMORY_KIB
        and int(p["t"]) >= OWASP_TIME
        and int(p["p"]) >= OWASP_PARALLELISM
    )


def test_a_stored_hash_is_argon2id_v19_at_owasp_strength_or_more() -> None:
    stored = hash_password("correct-horse")
    assert meets_owasp(stored), stored
    assert parameters(stored) == {"type": "argon2id", "v": "19", "m": "65536", "t": "3", "p": "4"}


def test_the_check_itself_refuses_weak_or_other_hashes() -> None:
    assert not meets_owasp(PasswordHasher(time_cost=1, memory_cost=19456).hash("x"))
    assert not meets_owasp(PasswordHasher(time_cost=2, memory_cost=8192).hash("x"))
    assert meets_owasp(PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash("x"))


def test_a_weak_hash_is_rehashed_with_todays_parameters() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("short")
    assert verify_password(weak, "short")
    new = rehashed(weak, "short")  # an old password below today's length rule still works
    assert new is not None and meets_owasp(new)
    assert verify_password(new, "short")
    assert rehashed(new, "short") is None  # current: nothing to do
    assert rehashed("not-a-hash", "short") is None
