"""A fast path to E.164 for plainly written Russian numbers, the bulk of any lead list.

``phonenumbers.parse`` costs about 50 µs a number: two thirds of a CSV import's
parsing. A number written as ``+7 916 123-45-67``, ``8 (495) 123-45-67``,
``7-916-1234567`` or ``9161234567`` needs none of its generality, so it is read here;
anything else (other countries, extensions, letters, codes whose reading depends on
phonenumbers' metadata) returns None and goes to ``callcenter.phones.to_e164``.
The result is always the one ``to_e164(raw, "RU")`` gives: a property test holds it so.
"""

from __future__ import annotations

import re

# digits with the usual separators, an optional leading plus, nothing else
_PLAIN = re.compile(r"\+?[\d\s().-]+")
_NOT_DIGITS = re.compile(r"\D")
# national numbers starting with these read the same in every form; 0, 1, 2, 5, 6 and
# 810 (the old international prefix) are left to phonenumbers
_SAFE_START = re.compile(r"[3479]|8(?!10)")


def quick_e164(raw: str) -> str | None:
    """``8 (495) 123-45-67`` -> ``+74951234567``; None when phonenumbers must decide."""
    text = raw.strip()
    if not _PLAIN.fullmatch(text):
        return None
    digits = _NOT_DIGITS.sub("", text)
    if len(digits) == 11 and (digits[0] == "7" or (digits[0] == "8" and text[0] != "+")):
        national = digits[1:]
    elif len(digits) == 10 and text[0] != "+":
        national = digits
    else:
        return None
    if not _SAFE_START.match(national):
        return None
    return "+7" + national
