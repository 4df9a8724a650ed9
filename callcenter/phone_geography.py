"""Where a phone number is: its region (in Russian) and its time zone, from ``phonenumbers``.

A landline names its region and, mostly, one time zone ("Приморский край",
Asia/Vladivostok). A Russian mobile says only "Россия" and could be in any of the
country's zones: the zone is then None, and the dialer must treat it as unknown,
never guess.

Speed: a CSV import asks this for every row, and asking ``phonenumbers`` the usual
way (``parse``, ``description_for_number``, ``time_zones_for_number``) parses the text
and decides the number's type (a battery of regular expressions) up to four times:
``number_type`` once to find the region and once more for the type, and
``country_name_for_number`` once per region of the country code. Here the number is
built from its digits and each region's patterns, compiled once, are matched at most
once per number; the place lookups are ``phonenumbers``' own. A test compares the
answers with ``phonenumbers``' on thousands of numbers. Real lists rarely repeat a
number, so there is no cache to grow.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

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
    national = phonenumbers.national_significant_number(number)
    kinds = _Kinds(code, national)
    kind = kinds.of_number()
    if kind == PhoneNumberType.UNKNOWN:
        return NOWHERE
    if phonenumbers.is_number_type_geographical(kind, code):
        region = geocoder.description_for_valid_number(number, _LANGUAGE)
        zones = timezone.time_zones_for_geographical_number(number)
    else:
        # a mobile or a service number: only the country is known
        region = kinds.country_name(_LANGUAGE)
        zones = _country_zones(code, number)
    zone = zones[0] if len(zones) == 1 and zones[0] != _UNKNOWN_ZONE else None
    if zone is not None and code == 7:
        zone = _RUSSIAN_ZONE_FIXES.get(zone, zone)
    return PhoneGeography(region or None, zone)


@functools.lru_cache(maxsize=4096)
def caller_region(e164: str) -> str | None:
    """The region a caller's number is from, for the call log. Callers do call again
    (unlike the numbers of a list), so the answers are kept for the frequent ones."""
    return geography(e164).region


class _Kinds:
    """``phonenumbers.number_type`` and ``geocoder.country_name_for_number`` of one
    number, with each region's patterns matched at most once (they ask several times)."""

    def __init__(self, code: int, national: str) -> None:
        self.code = code
        self.national = national
        self.regions: tuple[str, ...] = tuple(COUNTRY_CODE_TO_REGION_CODE.get(code, ()))
        self._by_region: dict[str, int] = {}

    def in_region(self, region: str | None) -> int:
        """The number's type under ``region``'s patterns (UNKNOWN: not valid there)."""
        if region is None:
            return PhoneNumberType.UNKNOWN
        kind = self._by_region.get(region)
        if kind is None:
            patterns = _patterns(self.code, region)
            kind = PhoneNumberType.UNKNOWN if patterns is None else patterns.kind(self.national)
            self._by_region[region] = kind
        return kind

    def of_number(self) -> int:
        return self.in_region(self._region())

    def _region(self) -> str | None:
        # phonenumbers.region_code_for_number
        if len(self.regions) == 1:
            return self.regions[0]
        for region in self.regions:
            patterns = _patterns(self.code, region)
            if patterns is None:
                continue
            if patterns.leading_digits is not None:
                if patterns.leading_digits.match(self.national):
                    return region
            elif self.in_region(region) != PhoneNumberType.UNKNOWN:
                return region
        return None

    def country_name(self, language: str) -> str:
        # geocoder.country_name_for_number: nothing when valid in several regions
        from phonenumbers.geocoder import _region_display_name  # loaded lazily (see above)

        if len(self.regions) == 1:
            return _region_display_name(self.regions[0], language)
        valid = [r for r in self.regions if self.in_region(r) != PhoneNumberType.UNKNOWN]
        if len(valid) > 1:
            return ""
        return _region_display_name(valid[0] if valid else "ZZ", language)


@dataclass(frozen=True)
class _Patterns:
    """One region's number patterns, compiled once (``_number_type_helper``'s order)."""

    leading_digits: re.Pattern[str] | None
    general: tuple[frozenset[int], re.Pattern[str]] | None
    # (type, possible lengths, pattern), tried in order before fixed line and mobile
    special: tuple[tuple[int, frozenset[int], re.Pattern[str]], ...]
    fixed_line: tuple[frozenset[int], re.Pattern[str]] | None
    mobile: tuple[frozenset[int], re.Pattern[str]] | None
    same_mobile_and_fixed_line: bool

    def kind(self, national: str) -> int:
        if not _matches(self.general, national):
            return PhoneNumberType.UNKNOWN
        for kind, lengths, pattern in self.special:
            if (not lengths or len(national) in lengths) and pattern.fullmatch(national):
                return kind
        if _matches(self.fixed_line, national):
            if self.same_mobile_and_fixed_line or _matches(self.mobile, national):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if not self.same_mobile_and_fixed_line and _matches(self.mobile, national):
            return PhoneNumberType.MOBILE
        return PhoneNumberType.UNKNOWN


def _matches(desc: tuple[frozenset[int], re.Pattern[str]] | None, national: str) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    return (not lengths or len(national) in lengths) and pattern.fullmatch(national) is not None


def _compiled(desc: Any) -> tuple[frozenset[int], re.Pattern[str]] | None:
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)


_SPECIAL_KINDS = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)


def _patterns(code: int, region: str) -> _Patterns | None:
    key = (code, region)
    if key not in _compiled_regions:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region.upper())
        _compiled_regions[key] = None if metadata is None else _compile(metadata)
    return _compiled_regions[key]


def _compile(metadata: Any) -> _Patterns:
    special = []
    for name, kind in _SPECIAL_KINDS:
        compiled = _compiled(getattr(metadata, name))
        if compiled is not None:
            special.append((kind, *compiled))
    leading = metadata.leading_digits
    return _Patterns(
        leading_digits=re.compile(leading) if leading is not None else None,
        general=_compiled(metadata.general_desc),
        special=tuple(special),
        fixed_line=_compiled(metadata.fixed_line),
        mobile=_compiled(metadata.mobile),
        same_mobile_and_fixed_line=bool(metadata.same_mobile_and_fixed_line_pattern),
    )


_compiled_regions: dict[tuple[int, str], _Patterns | None] = {}


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
    """Could parse() read the start of ``national`` as a national prefix (8 in Russia)?

    It strips the prefix only when what is left has a possible length for the region,
    so a Russian +7 8xx xxx-xx-xx (nine digits left) keeps its 8 and needs no parser."""
    for prefix, lengths, local_only in _national_prefixes_of(code):
        if prefix is None:
            return True  # a transforming prefix rule: only the parser knows
        found = prefix.match(national)
        if found is None:
            continue
        if not lengths:
            return True
        left = len(national) - found.end()
        # parse()'s test of the length: too short, invalid or local only keeps the prefix
        kept = (
            left < lengths[0] or left in local_only or (left not in lengths and left < lengths[-1])
        )
        if not kept:
            return True
    return False


def _national_prefixes_of(
    code: int,
) -> list[tuple[re.Pattern[str] | None, tuple[int, ...], tuple[int, ...]]]:
    """Per region of ``code``: its national prefix pattern (None when it has a transform
    rule), the possible lengths of its numbers and those possible only locally."""
    known = _national_prefixes.get(code)
    if known is None:
        known = _national_prefixes[code] = []
        for region in COUNTRY_CODE_TO_REGION_CODE[code]:
            metadata = PhoneMetadata.metadata_for_region(region)
            if metadata is None:
                continue
            prefix = metadata.national_prefix_for_parsing or metadata.national_prefix
            if not prefix:
                continue
            general = metadata.general_desc
            lengths = tuple(sorted(general.possible_length or ())) if general else ()
            local_only = tuple(general.possible_length_local_only or ()) if general else ()
            if metadata.national_prefix_transform_rule or (lengths and lengths[0] == -1):
                known.append((None, (), ()))
            else:
                known.append((re.compile(prefix), lengths, local_only))
    return known


_national_prefixes: dict[
    int, list[tuple[re.Pattern[str] | None, tuple[int, ...], tuple[int, ...]]]
] = {}


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
