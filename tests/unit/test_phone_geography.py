"""Where a number is: region and time zone, exactly as phonenumbers' own functions say."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from phonenumbers import geocoder, timezone
from phonenumbers.geodata import GEOCODE_DATA
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from callcenter.phone_geography import PhoneGeography, geography


def reference(e164: str) -> PhoneGeography:
    """The slow, obvious way: parse the text, ask each function (each decides the type)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return PhoneGeography(None, None)
    zones = timezone.time_zones_for_number(number)
    zone = zones[0] if len(zones) == 1 and zones[0] != "Etc/Unknown" else None
    if zone == "Europe/Bucharest" and number.country_code == 7:
        zone = "Europe/Kaliningrad"
    return PhoneGeography(geocoder.description_for_number(number, "ru") or None, zone)


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        ("+74951234567", PhoneGeography("Московская обл.", "Europe/Moscow")),
        ("+74232123456", PhoneGeography("Приморский край", "Asia/Vladivostok")),
        ("+73832123456", PhoneGeography("Новосибирская обл.", "Asia/Novosibirsk")),
        # a mobile: somewhere in Russia, in any of its zones: the zone is unknown
        ("+79161234567", PhoneGeography("Россия", None)),
        ("+4930123456", PhoneGeography("Berlin", "Europe/Berlin")),
        ("+12125551234", PhoneGeography("New York, NY", "America/New_York")),
        # toll free: no region, zones of the whole country
        ("+78001234567", PhoneGeography(None, None)),
    ],
)
def test_places_of_numbers(e164: str, expected: PhoneGeography) -> None:
    assert geography(e164) == expected
    assert reference(e164) == expected


@pytest.mark.parametrize("junk", ["", "+", "74951234567", "+0123", "+7abc", "+999", "+7495"])
def test_what_is_not_a_number_is_nowhere(junk: str) -> None:
    assert geography(junk) == PhoneGeography(None, None)


def test_a_mobile_has_many_zones_so_none_is_given() -> None:
    import phonenumbers

    zones = timezone.time_zones_for_number(phonenumbers.parse("+79161234567"))
    assert len(zones) > 5  # what makes guessing wrong
    assert geography("+79161234567").time_zone is None


def _random_number(rng: random.Random, code: int) -> str:
    length = rng.randint(max(4, 8 - len(str(code))), 15 - len(str(code)))
    return f"+{code}" + "".join(rng.choice("0123456789") for _ in range(length))


def test_the_fast_path_answers_as_phonenumbers_does() -> None:
    """Every geocoded prefix of +7, random Russian and Kazakh numbers, numbers written
    with a national prefix after the country code, and every other country code."""
    rng = random.Random(4)
    numbers: list[str] = []
    for prefix in (key for key in GEOCODE_DATA if key.startswith("7")):
        for _ in range(4):
            numbers.append(
                "+" + prefix + "".join(rng.choice("0123456789") for _ in range(11 - len(prefix)))
            )
    for first in "3489":
        for _ in range(3000):
            numbers.append("+7" + first + "".join(rng.choice("0123456789") for _ in range(9)))
    for code in COUNTRY_CODE_TO_REGION_CODE:
        numbers += [_random_number(rng, code) for _ in range(25)]
        numbers += [f"+{code}8" + str(rng.randrange(10**8, 10**9)) for _ in range(5)]
        numbers += [f"+{code}0" + str(rng.randrange(10**7, 10**9)) for _ in range(5)]
    wrong = [(n, geography(n), reference(n)) for n in numbers if geography(n) != reference(n)]
    assert wrong == []
    assert {geography(n).region for n in numbers} >= {
        "Россия",
        "Московская обл.",
        "Приморский край",
    }


def test_region_is_the_geocoders_russian_description() -> None:
    import phonenumbers

    number = phonenumbers.parse("+74012123456")
    assert geography("+74012123456").region == geocoder.description_for_number(number, "ru")


def test_kaliningrad_is_not_given_romanias_summer_time() -> None:
    assert geography("+74012123456").time_zone == "Europe/Kaliningrad"
