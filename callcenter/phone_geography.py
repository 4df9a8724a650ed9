"""Where a phone number is: its region (in Russian) and its time zone, from ``phonenumbers``.

A landline names its region and, mostly, one time zone ("Приморский край",
Asia/Vladivostok). A Russian mobile says only "Россия" and could be in any of the
country's zones: the zone is then None, and the dialer must treat it as unknown,
never guess.

Speed: a CSV import reads 15,000 rows a second, and asking ``phonenumbers`` the
usual way (``parse``, ``description_for_number``, ``time_zones_for_number``) costs
about 30 µs a number: it parses the text and decides the number's type (a battery of
regular expressions) twice. Here the number is built from its digits and its type is
decided once, then the same lookups ``phonenumbers`` would make are made directly:
the same answer (a test compares them on thousands of numbers) in about a third of
the time. Real lists rarely repeat a number, so there is no cache to grow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberType
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_UNKNOWN_ZONE = "Etc/Unknown"
# phonenumbers files Kaliningrad (+7 401) under Bucharest: the same offset in winter,
# an hour off in summer (Romania keeps daylight saving time, Russia does not)
_RUSSIAN_ZONE_FIXES = {"Europe/Bucharest": "Europe/Kaliningrad"}
_LANGUAGE = "ru"


@dataclass(frozen=True)
class PhoneGeography:
    region: str | None  # "Московская обл.", "Россия"; None when phonenumbers knows nothing
    time_zone: str | None  # an IANA zone; None when unknown or ambiguous


NOWHERE = PhoneGeography(None, None)


def geography(e164: str) -> PhoneGeography:
    """``+74232123456`` -> ("Приморский край", "Asia/Vladivostok")."""
    # ~0.2 s and ~90 MB of place names: loaded on the first number, not at import
    from phonenumbers import geocoder, timezone

    number = _number(e164)
    if number is None or number.country_code is None:
        return NOWHERE
    code = number.country_code
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        return NOWHERE
    if phonenumbers.is_number_type_geographical(kind, code):
        region = geocoder.description_for_valid_number(number, _LANGUAGE)
        zones = timezone.time_zones_for_geographical_number(number)
    else:
        # a mobile or a service number: only the country is known
        region = geocoder.country_name_for_number(number, _LANGUAGE)
        zones = _country_zones(code, number)
    zone = zones[0] if len(zones) == 1 and zones[0] != _UNKNOWN_ZONE else None
    if zone is not None and code == 7:
        zone = _RUSSIAN_ZONE_FIXES.get(zone, zone)
    return PhoneGeography(region or None, zone)


def _country_zones(code: int, number: PhoneNumber) -> tuple[str, ...]:
    """For a number of no particular place ``time_zones_for_number`` answers the zones
    listed under its country code alone, so one answer per country code serves all."""
    known = _zones_by_country.get(code)
    if known is None:
        from phonenumbers.timezone import time_zones_for_number

        known = _zones_by_country[code] = tuple(time_zones_for_number(number))
    return known


_zones_by_country: dict[int, tuple[str, ...]] = {}


def _strippable(code: int, national: str) -> bool:
    """Could parse() read the start of ``national`` as a national prefix (8 in Russia)?"""
    patterns = _national_prefixes.get(code)
    if patterns is None:
        patterns = _national_prefixes[code] = [
            re.compile(prefix)
            for region in COUNTRY_CODE_TO_REGION_CODE[code]
            if (metadata := PhoneMetadata.metadata_for_region(region)) is not None
            and (prefix := metadata.national_prefix_for_parsing or metadata.national_prefix)
        ]
    return any(pattern.match(national) for pattern in patterns)


_national_prefixes: dict[int, list[re.Pattern[str]]] = {}


def _number(e164: str) -> PhoneNumber | None:
    """The number from its digits; the text parser only where digits are not enough."""
    if not _E164.fullmatch(e164):
        return None
    for length in (1, 2, 3):  # country codes are prefix-free: at most one matches
        code = int(e164[1 : 1 + length])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            national = e164[1 + length :]
            # parse() strips a national prefix written after the country code (+375 8...)
            # and keeps a leading zero (Italy) as a flag: such numbers go through it
            if national and not national.startswith("0") and not _strippable(code, national):
                return PhoneNumber(country_code=code, national_number=int(national))
            break
    try:
        return phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
