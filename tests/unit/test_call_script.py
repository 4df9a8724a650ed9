"""The call script's placeholders: known ones filled, everything else left exactly as typed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from callcenter.call_script import render_script

FIELDS = {"first_name": "Пётр", "company": "ООО «Ромашка»", "phone": "+74951234567"}


def test_known_placeholders_are_filled() -> None:
    script = (
        "Здравствуйте, {first_name}! Вы из {company}? Ваш номер {phone}, менеджер {custom.tier}."
    )
    assert render_script(script, FIELDS, {"tier": "VIP"}) == (
        "Здравствуйте, Пётр! Вы из ООО «Ромашка»? Ваш номер +74951234567, менеджер VIP."
    )


def test_unknown_and_empty_placeholders_stay_as_typed() -> None:
    script = "{last_name} {nickname} {custom.missing} {company}"
    assert render_script(script, {"last_name": "", "company": None}, {}) == script


def test_hostile_placeholders_are_never_evaluated() -> None:
    hostile = [
        "{first_name.__class__}",
        "{first_name.__class__.__mro__}",
        "{0}",
        "{}",
        "{first_name[0]}",
        "{first_name!r}",
        "{first_name:>50}",
        "{custom.__class__}",
        "{custom.a.b}",
        "{{first_name}}",
        "{first_name",
        "first_name}",
        "{ first_name }",
        "%(first_name)s",
    ]
    for text in hostile:
        rendered = render_script(text, FIELDS, {"a": {"b": "secret"}})
        # nothing beyond a plain swap of a whole {name}: "{{x}}" keeps its outer braces
        assert rendered == text.replace("{first_name}", "Пётр"), text
        assert "class" not in rendered or "__class__" in text


def test_a_value_that_looks_like_a_placeholder_is_not_expanded_again() -> None:
    assert render_script("{first_name} {company}", {"first_name": "{company}", "company": "X"}) == (
        "{company} X"
    )


def test_structured_custom_values_are_not_shown() -> None:
    assert render_script("{custom.list}", {}, {"list": [1, 2]}) == "{custom.list}"


@given(st.text(max_size=200))
def test_any_text_without_known_placeholders_is_unchanged(text: str) -> None:
    assert render_script(text, {}, {}) == text
