"""Importing contacts into a real PostgreSQL: report, dedupe, all-or-nothing, flat memory."""

from __future__ import annotations

import csv
import io
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.csv_import import ImportReport, Limits, import_contacts
from callcenter.models import (
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    CustomFieldDefinition,
)

pytestmark = pytest.mark.db

MAPPING = {
    "ФИО": "full_name",
    "Телефон": "phone",
    "Телефон 2": "phone2",
    "E-mail": "email",
    "Компания": "company",
    "Теги": "tags",
    "Примечание": "custom:note",
}
HEADER = "ФИО;Телефон;Телефон 2;E-mail;Компания;Теги;Примечание\n"
MESSY = HEADER + (
    "Иванов Иван Иванович;8 (495) 123-45-67;;ivanov@example.com;ООО «Ромашка»;vip,опт;\n"
    'Петров Пётр;+7 916 000-00-01;89160000002;;ООО «Ромашка»;;"первая строка\nвторая"\n'
    "Сидоров;abc;;;;;\n"  # row 4: a bad phone
    ";89160000003;;;;;\n"  # row 5: no name
    "Иванова Мария;84951234567;;;;;\n"  # row 6: the same number as row 2
    "Кузнецов Олег;89160000009;;IVANOV@example.com;;;\n"  # row 7: the e-mail of row 2
    "Старый Клиент;89990000000;;;;;\n"  # row 8: already in the base
    + ";".join(["Широкий"] + ["x"] * 3000)  # row 9: too many columns
    + "\n=HYPERLINK(1);89160000010;;;;;\n"  # row 10: a formula, fine as a name
)


@pytest.fixture(autouse=True)
async def note_field(db: async_sessionmaker[AsyncSession]) -> None:
    """The admin-defined text field the files' "Примечание" column goes into."""
    async with db.begin() as session:
        session.add(CustomFieldDefinition(entity="contact", key="note", label_ru="Примечание"))


async def count(db: async_sessionmaker[AsyncSession], table: type) -> int:
    async with db() as session:
        return await session.scalar(select(func.count()).select_from(table)) or 0


async def add_existing_client(db: async_sessionmaker[AsyncSession]) -> int:
    async with db.begin() as session:
        contact = Contact(display_name="Старый Клиент")
        session.add(contact)
        await session.flush()
        session.add(ContactPhone(contact_id=contact.id, raw="8 999 000-00-00", e164="+79990000000"))
        return contact.id


async def test_messy_file_report_and_database(db: async_sessionmaker[AsyncSession]) -> None:
    old_id = await add_existing_client(db)
    data = MESSY.encode("cp1251")
    progress: list[tuple[int, int, int]] = []
    report = await import_contacts(
        db,
        io.BytesIO(data),
        MAPPING,
        region="RU",
        on_progress=lambda *a: progress.append(a),
        progress_every=3,
    )
    assert (report.encoding, report.delimiter) == ("cp1251", ";")
    assert (report.rows_total, report.created, report.duplicates, report.rejected) == (9, 3, 3, 3)
    assert [(e.row_number, e.column, e.message) for e in report.errors] == [
        (4, "Телефон", "not a phone number"),
        (5, "", "no name"),
        (9, "", "3001 columns, at most 200 allowed"),
    ]
    assert [(d.row_number, d.message) for d in report.duplicate_rows] == [
        (6, "duplicate of row 2 (+74951234567)"),
        (7, "duplicate of row 2 (ivanov@example.com)"),
        (8, f"duplicate of contact #{old_id} (+79990000000)"),
    ]
    assert progress[-1] == (9, len(data), len(data))
    assert [p[0] for p in progress] == [3, 6, 9, 9]

    async with db() as session:
        contacts = (
            await session.execute(
                select(Contact.last_name, Contact.first_name, Contact.display_name, Company.name)
                .outerjoin(Company)
                .order_by(Contact.id)
            )
        ).all()
        phones = set(await session.scalars(select(ContactPhone.e164)))
        emails = list(await session.scalars(select(ContactEmail.email)))
        note = await session.scalar(
            select(Contact.custom_fields["note"].astext).where(Contact.first_name == "Пётр")
        )
    assert contacts == [
        (None, None, "Старый Клиент", None),
        ("Иванов", "Иван", None, "ООО «Ромашка»"),
        ("Петров", "Пётр", None, "ООО «Ромашка»"),
        (None, None, "=HYPERLINK(1)", None),
    ]
    assert phones == {
        "+74951234567",
        "+79160000001",
        "+79160000002",
        "+79160000010",
        "+79990000000",
    }
    assert emails == ["ivanov@example.com"]
    assert note == "первая строка\nвторая"
    assert await count(db, Company) == 1

    out = io.StringIO()
    report.write_problems_csv(out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["row", "column", "problem", "excerpt"]
    assert len(rows) == 1 + len(report.errors) + len(report.duplicate_rows)


async def test_a_second_import_of_the_same_file_creates_nothing(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = tmp_path / "clients.csv"
    path.write_text(MESSY, encoding="utf-8-sig")
    first = await import_contacts(db, path, MAPPING, region="RU")
    second = await import_contacts(db, str(path), MAPPING, region="RU")
    assert first.encoding == "utf-8-sig" and first.created > 0
    assert (second.created, second.duplicates) == (0, first.created + first.duplicates)


async def test_an_aborted_import_leaves_nothing(db: async_sessionmaker[AsyncSession]) -> None:
    data = HEADER + "".join(f"Клиент {i};8916{i:07d};;;Компания {i};;\n" for i in range(5000))

    def explode(rows: int, done: int, total: int) -> None:
        if rows >= 4000:
            raise RuntimeError("the user pressed cancel")

    with pytest.raises(RuntimeError, match="cancel"):
        await import_contacts(
            db, io.BytesIO(data.encode()), MAPPING, region="RU", on_progress=explode
        )
    assert (await count(db, Contact), await count(db, Company)) == (0, 0)
    async with db() as session:  # the staging tables went with the transaction
        assert await session.scalar(text("SELECT to_regclass('import_rows')")) is None


class FailingDisk(io.BytesIO):
    """A file whose disk fails after ``good_lines`` lines."""

    def __init__(self, data: bytes, good_lines: int) -> None:
        super().__init__(data)
        self.lines_left = good_lines

    def readline(self, size: int | None = -1) -> bytes:
        self.lines_left -= 1
        if self.lines_left < 0:
            raise OSError("I/O error")
        return super().readline(size)


async def test_a_read_error_while_a_batch_is_copied_leaves_nothing(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """The next batch is parsed while the last one is copied; its failure ends the import."""
    data = HEADER + "".join(f"Клиент {i};8916{i:07d};;;;;\n" for i in range(5000))
    progress: list[int] = []
    with pytest.raises(OSError, match="I/O error"):
        await import_contacts(
            db,
            FailingDisk(data.encode(), good_lines=3200),
            MAPPING,
            region="RU",
            on_progress=lambda rows, done, total: progress.append(rows),
            progress_every=1000,
        )
    assert progress == [1000, 2000, 3000]
    assert await count(db, Contact) == 0


def write_file(path: Path, rows: int) -> int:
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for i in range(rows):
            out.write(f"Фамилия{i} Имя{i} Отчество;+7916{i:07d};;u{i}@example.com;;;{'z' * 60}\n")
    return path.stat().st_size


async def peak_import_memory(
    db: async_sessionmaker[AsyncSession], path: Path
) -> tuple[int, ImportReport]:
    tracemalloc.start()
    try:
        report = await import_contacts(
            db, path, MAPPING, region="RU", limits=Limits(max_line_bytes=64 * 1024)
        )
        return tracemalloc.get_traced_memory()[1], report
    finally:
        tracemalloc.stop()


async def test_memory_is_flat_in_the_file_size(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    small_size, large_size = write_file(small, 5_000), write_file(large, 20_000)
    assert large_size > 3.9 * small_size
    # a line far wider than allowed is skipped unread, not held
    with large.open("a", encoding="utf-8") as out:
        out.write(";".join(["x"] * 1_000_000) + "\n")
    peak_small, report = await peak_import_memory(db, small)
    assert (report.created, report.rejected) == (5_000, 0)
    async with db.begin() as session:
        await session.execute(text("TRUNCATE contacts, companies CASCADE"))
    peak_large, report = await peak_import_memory(db, large)
    assert (report.created, report.rejected) == (20_000, 1)
    assert peak_large < 1.5 * peak_small + 1_000_000, (peak_small, peak_large)
    assert peak_large < 20_000_000


async def test_custom_fields_are_stored_as_the_admin_typed_them(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db.begin() as session:
        session.add_all(
            [
                CustomFieldDefinition(
                    entity="contact", key="budget", label_ru="Бюджет", value_type="number"
                ),
                CustomFieldDefinition(
                    entity="contact",
                    key="size",
                    label_ru="Размер",
                    value_type="choice",
                    choices=["малый", "крупный"],
                ),
                CustomFieldDefinition(
                    entity="contact", key="since", label_ru="Клиент с", value_type="date"
                ),
            ]
        )
    mapping = {
        "ФИО": "full_name",
        "Телефон": "phone",
        "Бюджет": "custom:budget",
        "Размер": "custom:size",
        "С": "custom:since",
    }
    data = (
        "ФИО;Телефон;Бюджет;Размер;С\n"
        "Иванов Иван;89160000001;1 500,50;крупный;01.02.2020\n"
        "Петров Пётр;89160000002;много;огромный;\n"  # row 3: two bad cells
        "Сидоров Олег;89160000003;;;2020-13-01\n"  # row 4: no such month
    ).encode()
    report = await import_contacts(db, io.BytesIO(data), mapping, region="RU")
    assert (report.created, report.rejected) == (1, 2)
    assert [(e.row_number, e.column) for e in report.errors] == [
        (3, "Бюджет"),
        (3, "Размер"),
        (4, "С"),
    ]
    assert report.errors[0].message == "Must be a number."
    assert report.errors[1].message == "Must be one of: малый, крупный."
    async with db() as session:
        (fields,) = (await session.scalars(select(Contact.custom_fields))).all()
    assert fields == {"budget": 1500.5, "size": "крупный", "since": "2020-02-01"}

    with pytest.raises(ValueError, match="no such custom fields: colour"):
        await import_contacts(db, io.BytesIO(data), {**mapping, "С": "custom:colour"}, region="RU")
    assert await count(db, Contact) == 1
