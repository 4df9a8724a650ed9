"""The benchmarks' people are spread as Russians' names are: a search bench on a handful
of names (or on ``Фамилия12345``) would measure nothing real."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.russian_names import People, feminine, patronymic


@pytest.fixture(scope="module")
def crowd() -> list[tuple[str | None, str | None, str | None]]:
    people = People(seed=1)
    return [
        (p.last_name, p.first_name, p.middle_name)
        for p in (people.person("ООО «Ромашка»") for _ in range(20_000))
    ]


def test_surnames_have_a_head_and_a_long_tail(
    crowd: list[tuple[str | None, str | None, str | None]],
) -> None:
    masculine = Counter(
        last.removesuffix("а") if last.endswith(("ова", "ева", "ина")) else last
        for last, _, _ in crowd
        if last
    )
    named = sum(masculine.values())
    (top, top_count), *_ = masculine.most_common(1)
    assert top == "Смирнов"
    assert 0.01 < top_count / named < 0.03
    common = sum(count for _, count in masculine.most_common(250))
    assert 0.3 < common / named < 0.6  # the 250 most common: about a third of people
    assert len(masculine) > 3_000  # and thousands of rare ones


def test_first_names_are_steep_and_both_sexes_appear(
    crowd: list[tuple[str | None, str | None, str | None]],
) -> None:
    firsts = Counter(first for _, first, _ in crowd if first)
    assert {"Александр", "Елена"} <= {name for name, _ in firsts.most_common(6)}
    women = sum(1 for last, _, middle in crowd if middle and middle.endswith("на"))
    men = sum(1 for last, _, middle in crowd if middle and middle.endswith("ич"))
    assert 0.4 < women / (women + men) < 0.7


def test_forms_follow_russian_grammar() -> None:
    assert [feminine(s) for s in ("Смирнов", "Соловьёв", "Ильин", "Чудский", "Шевченко")] == [
        "Смирнова",
        "Соловьёва",
        "Ильина",
        "Чудская",
        "Шевченко",
    ]
    assert [patronymic(f, female=False) for f in ("Сергей", "Юрий", "Илья", "Лев", "Игорь")] == [
        "Сергеевич",
        "Юрьевич",
        "Ильич",
        "Львович",
        "Игоревич",
    ]
    assert patronymic("Николай", female=True) == "Николаевна"
    assert patronymic("Никита", female=True) == "Никитична"
