"""Phone numbers: parse what people type, store E.164, look up by E.164."""

from __future__ import annotations

import phonenumbers


def to_e164(raw: str, default_region: str) -> str | None:
    """``8 (495) 123-45-67`` -> ``+74951234567``; None when it is not a phone number."""
    text = raw.strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
