"""Cells bound for a spreadsheet (CSV or XLSX exports, import error reports)."""

from __future__ import annotations

import re

# a spreadsheet evaluates a cell starting with one of these as a formula (CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
# ``+7 (495) 123-45-67``: a plus, digits and the usual separators, 7 to 15 digits (E.164);
# without letters, cell references or function calls it can do no harm if evaluated
_PLAIN_PHONE = re.compile(r"\+[0-9][0-9 ()\-]*")


def is_plain_phone(value: str) -> bool:
    if not _PLAIN_PHONE.fullmatch(value):
        return False
    digits = sum(ch.isdigit() for ch in value)
    return 7 <= digits <= 15


def neutralise_cell(value: str) -> str:
    """``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``; ``+74951234567`` stays as it is.

    Leading spaces do not hide a formula: some spreadsheets skip them before ``=``.
    """
    if value.lstrip(" ")[:1] not in FORMULA_START or is_plain_phone(value):
        return value
    return "'" + value
