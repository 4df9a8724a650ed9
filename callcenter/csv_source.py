"""Reading a CSV file of any size as records: encoding and delimiter detected, sizes capped.

The file is read one physical line at a time (never whole), so memory depends on
the longest line allowed, not on the file. Only UTF-8 (with or without BOM) and
Windows-1251 are accepted: what Russian users' spreadsheets save. A file glued
together from both is read line by line in whichever of the two each line is in.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

SAMPLE_BYTES = 64 * 1024
_LETTERS = re.compile(r"[^\W\d_]+")  # a word: a run of letters
DELIMITERS = ",;\t"


class CsvFormatError(ValueError):
    """The file as a whole cannot be read; nothing was imported."""


@dataclass(frozen=True)
class Limits:
    max_columns: int = 200
    max_cell_chars: int = 10_000
    # a longer physical line is skipped unread (with an error for its record)
    max_line_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class Record:
    """One row; ``number`` as a spreadsheet shows it (the header is row 1)."""

    number: int
    cells: list[str]
    problem: str | None = None  # set when the row cannot be used as it is


def detect_encoding(sample: bytes) -> str | None:
    """``utf-8-sig``, ``utf-8``, ``cp1251``, or None while the text is plain ASCII."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in sample:
        raise CsvFormatError("the file is UTF-16 or binary; save it as CSV in UTF-8")
    if sample.isascii():
        return None
    try:
        # final=False: the sample may end inside a multi-byte character
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    # Windows-1251, or both glued together: the first line that is not ASCII decides,
    # and every later line is read in whichever of the two it is in (CsvSource._decode)
    for line in sample.splitlines():
        if line.isascii():
            continue
        with contextlib.suppress(UnicodeDecodeError):
            line.decode("utf-8")
            return "utf-8"
        if _plausible_cp1251(line):
            return "cp1251"
        break
    raise CsvFormatError("the file is neither UTF-8 nor Windows-1251")


def _plausible_cp1251(line: bytes) -> bool:
    """Bytes that read as Cyrillic text in Windows-1251: most non-ASCII letters Cyrillic,
    in words of their own. Latin-1 "Téléphone" reads as "Tйlйphone" (every byte of 0xC0
    and up is a Cyrillic letter): Latin and Cyrillic in one word, which Russian text
    practically never has."""
    try:
        text = line.decode("cp1251")
    except UnicodeDecodeError:
        return False
    non_ascii = [ch for ch in text if ord(ch) > 127]
    if sum(1 for ch in non_ascii if "\u0400" <= ch <= "\u04ff") < len(non_ascii) / 2:
        return False
    words = [word for word in _LETTERS.findall(text) if not word.isascii()]
    mixed = sum(1 for word in words if any(ch.isascii() for ch in word))
    return 2 * mixed <= len(words)


def detect_delimiter(sample: str) -> str:
    """``,``, ``;`` or tab, from a few complete lines of the file."""
    lines = sample.splitlines(keepends=True)
    complete = "".join(lines[:-1]) if len(lines) > 1 else sample
    try:
        return csv.Sniffer().sniff(complete, delimiters=DELIMITERS).delimiter
    except csv.Error:
        # one column, or too few lines to tell: count in the header
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


class CsvSource:
    """A CSV file as a header and an iterator of records, with bytes read for progress."""

    def __init__(self, stream: IO[bytes], limits: Limits = Limits()) -> None:
        self.limits = limits
        self._stream = stream
        self.bytes_total = _size(stream)
        self.bytes_done = 0
        start = stream.tell() if stream.seekable() else 0
        sample = stream.read(SAMPLE_BYTES)
        if stream.seekable():
            stream.seek(start)
            self._pending = b""
        else:
            self._pending = sample
        self.encoding = detect_encoding(sample)
        self._bad_bytes = False
        self._overlong = False
        head = sample[: sample.rfind(b"\n") + 1] or sample
        self.delimiter = detect_delimiter(self._decode(head))
        self._bad_bytes = False
        self._lines = self._text_lines()
        self._reader = csv.reader(
            self._lines, delimiter=self.delimiter, quotechar='"', doublequote=True, strict=False
        )
        self._number = 0
        header = self._next()
        if header is None or not any(cell.strip() for cell in header.cells):
            raise CsvFormatError("the file is empty: a header row is expected")
        if header.problem:
            raise CsvFormatError(f"the header row cannot be read: {header.problem}")
        self.header = [cell.strip() for cell in header.cells]

    def records(self) -> Iterator[Record]:
        while (record := self._next()) is not None:
            if record.cells or record.problem:  # blank lines are not rows
                yield record

    def _next(self) -> Record | None:
        self._bad_bytes = self._overlong = False
        problem = None
        try:
            cells = next(self._reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            cells, problem = [], f"unreadable CSV: {exc}"
        self._number += 1
        limits = self.limits
        if self._overlong:
            problem = f"a line longer than {limits.max_line_bytes} bytes"
        elif self._bad_bytes:
            problem = "text in neither UTF-8 nor Windows-1251"
        elif len(cells) > limits.max_columns:
            problem = f"{len(cells)} columns, at most {limits.max_columns} allowed"
        if problem is not None:
            return Record(self._number, cells[: limits.max_columns], problem)
        return Record(self._number, cells)

    def _text_lines(self) -> Iterator[str]:
        limit = self.limits.max_line_bytes
        while True:
            line = self._readline(limit + 1)
            if not line:
                return
            self.bytes_done += len(line)
            if len(line) > limit:
                while line and not line.endswith(b"\n"):  # skip the rest of it
                    line = self._readline(SAMPLE_BYTES)
                    self.bytes_done += len(line)
                self._overlong = True
                yield "\n"
                continue
            yield self._decode(line)

    def _decode(self, line: bytes) -> str:
        if self.encoding is None:
            if line.isascii():
                return line.decode("ascii")
            # ASCII so far, so every earlier line reads the same in either encoding
            self.encoding = detect_encoding(line)
        assert self.encoding is not None
        if self.encoding == "cp1251" and not line.isascii():
            # files glued together from several sources mix encodings line by line;
            # Windows-1251 Cyrillic is practically never valid UTF-8, so a line that
            # decodes as UTF-8 was written in it
            with contextlib.suppress(UnicodeDecodeError):
                return line.decode("utf-8")
        try:
            return line.decode(self.encoding)
        except UnicodeDecodeError:
            pass
        if self.encoding != "cp1251" and _plausible_cp1251(line):
            return line.decode("cp1251")
        self._bad_bytes = True
        return line.decode(self.encoding, errors="replace")

    def _readline(self, limit: int) -> bytes:
        if not self._pending:
            return self._stream.readline(limit)
        # a non-seekable stream: the sample comes first, then the rest of the stream
        buffered = io.BytesIO(self._pending)
        line = buffered.readline(limit)
        self._pending = buffered.read()
        if not line.endswith(b"\n") and len(line) < limit:
            line += self._stream.readline(limit - len(line))
        return line


def _size(stream: IO[bytes]) -> int:
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, io.UnsupportedOperation):
        pass
    if stream.seekable():
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(here)
        return end - here
    return 0
