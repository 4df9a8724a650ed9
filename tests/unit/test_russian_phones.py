"""The fast path for plainly written Russian numbers gives exactly what phonenumbers gives."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from callcenter.contact_rows import RowParser
from callcenter.phones import to_e164
from callcenter.russian_phones import quick_e164


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("8 (495) 123-45-67", "+74951234567"),
        ("+7 916 123-45-67", "+79161234567"),
        ("7-916-1234567", "+79161234567"),
        ("89161234567", "+79161234567"),
        ("9161234567", "+79161234567"),
        ("  8.812.123.45.67 ", "+78121234567"),
        ("+7 (727) 123 45 67", "+77271234567"),  # Kazakhstan shares +7
    ],
)
def test_plain_russian_numbers_are_read_quickly(raw: str, e164: str) -> None:
    assert quick_e164(raw) == e164
    assert to_e164(raw, "RU") == e164


@pytest.mark.parametrize(
    "raw",
    [
        "8 10 49 30 1234567",  # 810: the old international prefix
        "8 (101) 123-45-67",
        "+8 916 123-45-67",  # a plus with the trunk prefix
        "+1 212 555 0100",
        "8 495 123-45-67 доб. 12",
        "8 495 123 45",  # too short
        "8 495 123 45 678",  # too long
        "(+7) 916 123 45 67",
        "0161234567",
        "",
    ],
)
def test_anything_else_is_left_to_phonenumbers(raw: str) -> None:
    assert quick_e164(raw) is None


# digits with separators, as people type them, often in the shapes the fast path reads
_TYPED = st.lists(
    st.one_of(
        st.sampled_from("0123456789"),
        st.sampled_from(["7", "8", "9", "+7", "+", " ", "-", "(", ")", ".", "  ", "8 (", ") "]),
    ),
    max_size=24,
).map("".join)


@settings(max_examples=3000)
@given(_TYPED)
@example("89161234567")
@example("+7 (812) 123-45-67")
@example("8 (810) 123-45-67")
def test_the_fast_path_agrees_with_phonenumbers(raw: str) -> None:
    quick = quick_e164(raw)
    if quick is not None:
        assert quick == to_e164(raw, "RU")


def test_an_import_outside_russia_does_not_take_the_russian_path() -> None:
    parser = RowParser(["name", "phone"], {"name": "full_name", "phone": "phone"}, "DE")
    row = parser.parse(["Müller Hans", "8 (916) 123-45-67"], 100)
    assert not isinstance(row, list)
    assert row.phones == [("8 (916) 123-45-67", "+4989161234567")]  # Munich, 089
