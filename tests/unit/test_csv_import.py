"""CSV import without a database: detection, mapping, cell safety, row parsing."""

from __future__ import annotations

import io
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.contact_rows import ContactRow, RowParser, propose_mapping
from callcenter.csv_source import CsvFormatError, CsvSource, Limits
from callcenter.models import CustomFieldDefinition
from callcenter.spreadsheet import FORMULA_START, is_plain_phone, neutralise_cell

TEXT = "ФИО;Телефон;Компания\nИванов Иван Иванович;8 (495) 123-45-67;ООО «Ромашка»\n"


def source(data: bytes, limits: Limits | None = None) -> CsvSource:
    return CsvSource(io.BytesIO(data), limits or Limits())


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (TEXT.encode("utf-8-sig"), "utf-8-sig"),
        (TEXT.encode("cp1251"), "cp1251"),
    ],
)
def test_encoding_is_detected(data: bytes, encoding: str) -> None:
    csv = source(data)
    assert (csv.encoding, csv.delimiter) == (encoding, ";")
    assert csv.header == ["ФИО", "Телефон", "Компания"]
    [row] = list(csv.records())
    assert row.cells == ["Иванов Иван Иванович", "8 (495) 123-45-67", "ООО «Ромашка»"]
    assert row.number == 2


def test_comma_and_embedded_newlines() -> None:
    data = 'Name,Phone,Note\n"Smith, John",+74951234567,"line one\nline two"\nAnn,89161234567,\n'
    csv = source(data.encode())
    assert csv.delimiter == ","
    rows = list(csv.records())
    assert [r.cells for r in rows] == [
        ["Smith, John", "+74951234567", "line one\nline two"],
        ["Ann", "89161234567", ""],
    ]
    assert [r.number for r in rows] == [2, 3]


def test_ascii_start_then_cp1251_later_is_read_as_cp1251() -> None:
    head = b"name;phone\n" + b"x;89161234567\n" * 10_000  # longer than the sample
    csv = source(head + "Пётр;89161234568\n".encode("cp1251"))
    assert csv.encoding is None
    *_, last = csv.records()
    assert last.cells == ["Пётр", "89161234568"] and csv.encoding == "cp1251"


@pytest.mark.parametrize("first", ["cp1251", "utf-8"])
def test_a_file_glued_from_both_encodings_is_read_line_by_line(first: str) -> None:
    second = "utf-8" if first == "cp1251" else "cp1251"
    data = (
        "ФИО;Телефон\n".encode(first)
        + "Иванов Иван;84951234567\n".encode(first)
        + "Щукина Ёлка;84951234568\n".encode(second)
        + "Жаров Эдуард;84951234569\n".encode(first)
    )
    csv = source(data)
    assert csv.encoding == first
    rows = list(csv.records())
    assert [r.cells[0] for r in rows] == ["Иванов Иван", "Щукина Ёлка", "Жаров Эдуард"]
    assert [r.problem for r in rows] == [None, None, None]


def test_a_line_in_neither_encoding_is_a_row_error_not_the_file_s() -> None:
    data = "ФИО;Телефон\nИванов;84951234567\n".encode() + b"\xc3\x28\x98;1\n"
    rows = list(source(data).records())
    assert rows[0].problem is None
    assert rows[1].problem == "text in neither UTF-8 nor Windows-1251"


@pytest.mark.parametrize(
    "data",
    [
        "имя;телефон\n".encode("utf-16"),
        b"\x00\x01\x02binary",
        b"name;phone\n\x98\x98\xa0;1\n",  # 0x98 is no character in Windows-1251
    ],
)
def test_neither_utf8_nor_cp1251_is_refused(data: bytes) -> None:
    with pytest.raises(CsvFormatError):
        source(data)


def test_empty_file_is_refused() -> None:
    with pytest.raises(CsvFormatError, match="header"):
        source(b"")


def test_single_column_file() -> None:
    csv = source(b"phone\n89161234567\n")
    assert csv.delimiter == "," and csv.header == ["phone"]


def test_oversized_rows_are_reported_not_fatal() -> None:
    limits = Limits(max_columns=5, max_cell_chars=10, max_line_bytes=1000)
    wide = ";".join(["x"] * 50)
    long_line = "a;" + "b" * 5000
    csv = source(f"a;b\n{wide}\n{long_line}\nok;1\n".encode(), limits)
    rows = list(csv.records())
    assert [(r.number, r.problem is not None) for r in rows] == [(2, True), (3, True), (4, False)]
    assert "50 columns" in (rows[0].problem or "")
    assert "longer than 1000 bytes" in (rows[1].problem or "")
    assert rows[2].cells == ["ok", "1"]


def test_non_seekable_stream() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
            chunk = self.inner.read(min(len(buffer), 7))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    data = TEXT.encode("cp1251") * 3000
    csv = CsvSource(io.BufferedReader(Pipe(data)), Limits())
    rows = list(csv.records())
    assert len(rows) == 3000 * 2 - 1  # the repeated headers are rows too
    assert csv.bytes_done == len(data)


def test_mapping_is_proposed_from_russian_and_english_headers() -> None:
    header = ["ФИО", "Телефон", "Телефон 2", "Компания", "E-mail", "Phone", "Дата рождения", "X"]
    assert propose_mapping(header) == {
        "ФИО": "full_name",
        "Телефон": "phone",
        "Телефон 2": "phone",
        "Компания": "company",
        "E-mail": "email",
        "Phone": "phone",
        "Дата рождения": "birthday",
    }
    assert propose_mapping(["Фамилия", "Имя", "Отчество", "Email"]) == {
        "Фамилия": "last_name",
        "Имя": "first_name",
        "Отчество": "middle_name",
        "Email": "email",
    }


HEADER = ["ФИО", "Тел", "Тел2", "Почта", "Статус", "Теги", "ДР", "ИНН", "Компания"]
MAPPING = {
    "ФИО": "full_name",
    "Тел": "phone",
    "Тел2": "phone2",
    "Почта": "email",
    "Статус": "status",
    "Теги": "tags",
    "ДР": "birthday",
    "ИНН": "custom:inn",
    "Компания": "company",
}


INN = CustomFieldDefinition(entity="contact", key="inn", label_ru="ИНН", value_type="text")


def test_a_good_row_is_normalised() -> None:
    parser = RowParser(HEADER, MAPPING, "RU", [INN])
    row = parser.parse(
        [
            " Петров  Пётр Петрович ",
            "8 (916) 123-45-67",
            "+7 916 123 45 67",
            "Petrov@Example.COM",
            "Клиент",
            "vip, опт,vip",
            "01.02.1980",
            "7701234567",
            "",
        ],
        10_000,
    )
    assert isinstance(row, ContactRow)
    assert (row.last_name, row.first_name, row.middle_name) == ("Петров", "Пётр", "Петрович")
    assert row.phones == [("8 (916) 123-45-67", "+79161234567")]  # the same number once
    assert row.emails == ["petrov@example.com"]
    assert (row.status, row.tags, row.birthday) == ("client", ["vip", "опт"], date(1980, 2, 1))
    assert row.custom_fields == {"inn": "7701234567"} and row.company is None


def test_messy_rows_get_errors_per_column() -> None:
    parser = RowParser(HEADER, MAPPING, "RU", [INN])
    bad = parser.parse(["Иван", "12", "", "not-mail", "VIP", "", "31.02.2000", "", ""], 10_000)
    assert isinstance(bad, list)
    assert {(e.column, e.message.split(" (")[0]) for e in bad} == {
        ("Тел", "not a phone number"),
        ("Почта", "not an e-mail address"),
        ("Статус", "unknown status"),
        ("ДР", "not a date"),
    }
    empty = parser.parse([""] * 9, 10_000)
    assert isinstance(empty, list) and [e.message for e in empty] == ["no name", "no phone"]
    no_phone = parser.parse(["Иван"], 10_000)  # a short row: missing cells are empty
    assert isinstance(no_phone, list) and [e.message for e in no_phone] == ["no phone"]
    long_cell = parser.parse(["Иван", "89161234567", "", "", "", "", "", "x" * 101, ""], 100)
    assert isinstance(long_cell, list) and long_cell[0].column == "ИНН"
    only_company = parser.parse(["", "89161234567", "", "", "", "", "", "", "ООО Ромашка"], 100)
    assert isinstance(only_company, ContactRow) and only_company.display_name == "ООО Ромашка"


def test_a_mapping_must_name_real_columns_and_fields() -> None:
    with pytest.raises(ValueError, match="no such columns"):
        RowParser(["a"], {"b": "phone"}, "RU")
    with pytest.raises(ValueError, match="unknown field"):
        RowParser(["a", "b"], {"a": "phone", "b": "shoe_size"}, "RU")
    with pytest.raises(ValueError, match="phone"):
        RowParser(["a"], {"a": "full_name"}, "RU")
    with pytest.raises(ValueError, match="no such custom fields: inn"):
        RowParser(HEADER, MAPPING, "RU")  # nobody defined the ИНН field


def test_custom_fields_are_read_as_their_type() -> None:
    fields = [
        CustomFieldDefinition(entity="contact", key="vip", label_ru="VIP", value_type="bool"),
        CustomFieldDefinition(entity="contact", key="seats", label_ru="Мест", value_type="number"),
    ]
    parser = RowParser(
        ["ФИО", "Тел", "VIP", "Мест"],
        {"ФИО": "full_name", "Тел": "phone", "VIP": "custom:vip", "Мест": "custom:seats"},
        "RU",
        fields,
    )
    good = parser.parse(["Иван", "89161234567", "да", "12"], 100)
    assert isinstance(good, ContactRow) and good.custom_fields == {"vip": True, "seats": 12}
    bad = parser.parse(["Иван", "89161234567", "может быть", "двенадцать"], 100)
    assert isinstance(bad, list)
    assert [(e.column, e.message) for e in bad] == [
        ("VIP", "Must be yes or no."),
        ("Мест", "Must be a number."),
    ]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t=1"),
        ("  =1", "'  =1"),
        ("+74951234567", "+74951234567"),
        ("+7 (495) 123-45-67", "+7 (495) 123-45-67"),
        ("+7 495 A1", "'+7 495 A1"),
        ("+1", "'+1"),
        ("Иванов", "Иванов"),
        ("", ""),
    ],
)
def test_neutralise_cell(cell: str, expected: str) -> None:
    assert neutralise_cell(cell) == expected


@given(st.text())
def test_neutralised_cell_never_starts_a_formula(cell: str) -> None:
    out = neutralise_cell(cell)
    assert out.lstrip(" ")[:1] not in FORMULA_START or is_plain_phone(out)
    assert out in (cell, "'" + cell)


@pytest.mark.parametrize(
    "line",
    [
        "Hélène Gâteau;+33612345678;Téléphone portable\n",
        "Müller Jürgen;+4915112345678;Köln\n",
    ],
)
def test_latin1_text_is_not_taken_for_windows_1251(line: str) -> None:
    # every Latin-1 letter is a Cyrillic one in Windows-1251: "Tйlйphone" would be imported
    with pytest.raises(CsvFormatError, match="neither UTF-8 nor Windows-1251"):
        source(("Name;Phone;Note\n" + line).encode("latin-1"))


def test_windows_1251_with_latin_brand_names_is_still_read() -> None:
    data = "ФИО;Телефон;Товар\nПетров Иван;84951234567;iPhone 15 Pro, Wi-Fi-роутер\n"
    csv = source(data.encode("cp1251"))
    assert csv.encoding == "cp1251"
    [row] = list(csv.records())
    assert row.cells[2] == "iPhone 15 Pro, Wi-Fi-роутер" and row.problem is None
