from __future__ import annotations

import pytest

from callcenter.passwords import generate_password, hash_password, verify_password
from callcenter.phones import to_e164


@pytest.mark.parametrize(
    "raw",
    ["8 (495) 123-45-67", "+7 495 1234567", "74951234567", "4951234567", "8/495/123-45-67"],
)
def test_russian_formats_normalise_to_one_number(raw: str) -> None:
    assert to_e164(raw, "RU") == "+74951234567"


@pytest.mark.parametrize("raw", ["", "   ", "hello", "12"])
def test_non_numbers_give_none(raw: str) -> None:
    assert to_e164(raw, "RU") is None


def test_password_hash_is_argon2id_and_verifies() -> None:
    password = generate_password()
    hashed = hash_password(password)
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, password)
    assert not verify_password(hashed, password + "x")
    assert not verify_password("not-a-hash", password)


def test_short_password_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")
