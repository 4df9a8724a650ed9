"""The contact import pages over HTTP: upload, mapping, background run, report, shutdown."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import Contact, ContactImport, CustomFieldDefinition
from callcenter.settings import load_settings
from callcenter.users import add_user
from tests.integration.test_web import unconnected_telephony
from web.app import create_app
from web.state import WebServices

pytestmark = pytest.mark.db

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]

MESSY = (
    "ФИО;Телефон;Компания\r\n"
    "Петров Иван;8 (495) 123-45-67;ООО «Ромашка»\r\n"
    "Сидорова Анна;не знаю;ИП Сидорова\r\n"  # row 3: bad phone
    '=HYPERLINK("http://evil.example");+7 916 000-00-01;\r\n'  # row 4: fine, formula name
    "Кузнецов Олег;+7 495 123 45 67;\r\n"  # row 5: the same number as row 2
    ";;\r\n"  # row 6: nothing at all
)


async def sign_in(client: TestClient[Any, Any], login: str) -> None:
    response = await client.post(
        "/login", data={"login": login, "password": "correct-horse"}, allow_redirects=False
    )
    assert response.status == 303


@pytest.fixture
async def make_client(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory, tmp_path: Path
) -> Callable[[str], Awaitable[TestClient[Any, Any]]]:
    async with db() as session:
        for login, role in (("boss", "manager"), ("super", "supervisor"), ("op", "operator")):
            await add_user(
                session, login=login, full_name=login, role=role, password="correct-horse"
            )
        await session.commit()

    async def signed_in(login: str) -> TestClient[Any, Any]:
        settings = load_settings({"CALLCENTER_DATA_DIR": str(tmp_path / "data")})
        client = await aiohttp_client(
            create_app(WebServices(settings, db, unconnected_telephony()))
        )
        await sign_in(client, login)
        return client

    return signed_in


async def upload(client: TestClient[Any, Any], content: bytes, name: str = "leads.csv") -> Any:
    form = FormData()
    form.add_field("file", io.BytesIO(content), filename=name, content_type="text/csv")
    return await client.post("/imports/new", data=form, allow_redirects=False)


async def wait_done(client: TestClient[Any, Any], import_id: int) -> dict[str, Any]:
    for _ in range(200):
        state: dict[str, Any] = await (await client.get(f"/api/v1/imports/{import_id}")).json()
        if state["status"] != "running":
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("the import never ended")


async def contacts(db: async_sessionmaker[AsyncSession]) -> int:
    async with db() as session:
        return await session.scalar(select(func.count()).select_from(Contact)) or 0


async def test_a_manager_imports_a_messy_windows_1251_file_and_reads_the_report(
    db: async_sessionmaker[AsyncSession],
    make_client: Callable[[str], Awaitable[TestClient[Any, Any]]],
    tmp_path: Path,
) -> None:
    client = await make_client("boss")
    uploaded = await upload(client, MESSY.encode("cp1251"))
    assert uploaded.status == 303
    mapping_url = uploaded.headers["Location"]
    page = await (await client.get(mapping_url)).text()
    assert "cp1251" in page and "; (semicolon)" in page
    assert "Петров Иван" in page  # the first rows, decoded
    assert '<option value="full_name" selected>' in page  # the proposed mapping

    # no phone column: refused before anything runs
    refused = await client.post(mapping_url + "/start", data={"column-0": "full_name"})
    assert refused.status == 400
    started = await client.post(
        mapping_url + "/start",
        data={"column-0": "full_name", "column-1": "phone", "column-2": "company"},
        allow_redirects=False,
    )
    assert started.status == 303
    import_id = int(started.headers["Location"].rsplit("/", 1)[1])
    state = await wait_done(client, import_id)
    assert state["status"] == "done", state
    assert (state["rows_total"], state["created"], state["duplicates"], state["rejected"]) == (
        5,
        2,
        1,
        2,
    )
    assert state["percent"] == 100
    assert await contacts(db) == 2
    assert list((tmp_path / "data" / "imports").iterdir()) == []  # the upload is gone
    assert (await client.get(mapping_url + "")).status == 404

    report = await (await client.get(f"/imports/{import_id}")).text()
    assert "это не номер телефона" in report and "Сидорова Анна;не знаю" in report
    assert "дубликат строки 2" in report
    assert 'data-row="6"' in report and "нет имени" in report
    history = await (await client.get("/imports")).text()
    assert "leads.csv" in history and "завершён" in history

    problems = await client.get(f"/imports/{import_id}/problems.csv")
    body = await problems.read()
    assert body.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["row", "column", "problem", "excerpt"]
    assert [row[0] for row in rows[1:]] == ["3", "6", "6", "5"]
    assert all(not row[3].startswith("=") for row in rows)


async def test_an_unreadable_file_is_refused_at_upload_and_nothing_is_kept(
    db: async_sessionmaker[AsyncSession],
    make_client: Callable[[str], Awaitable[TestClient[Any, Any]]],
    tmp_path: Path,
) -> None:
    client = await make_client("boss")
    response = await upload(client, "Имя,Телефон\r\nИван,+74951234567\r\n".encode("utf-16"))
    assert response.status == 400
    assert "UTF-16" in await response.text()
    empty = await upload(client, b"")
    assert empty.status == 400
    assert list((tmp_path / "data" / "imports").iterdir()) == []
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(ContactImport)) == 0


async def test_an_import_cut_off_by_shutdown_leaves_nothing_and_says_failed(
    db: async_sessionmaker[AsyncSession],
    make_client: Callable[[str], Awaitable[TestClient[Any, Any]]],
    tmp_path: Path,
) -> None:
    client = await make_client("boss")
    lines = ["ФИО;Телефон"] + [f"Клиент Номер{n};+7916{n:07d}" for n in range(300_000)]
    uploaded = await upload(client, ("\r\n".join(lines) + "\r\n").encode("utf-8"))
    started = await client.post(
        uploaded.headers["Location"] + "/start",
        data={"column-0": "full_name", "column-1": "phone"},
        allow_redirects=False,
    )
    import_id = int(started.headers["Location"].rsplit("/", 1)[1])
    for _ in range(400):
        state = await (await client.get(f"/api/v1/imports/{import_id}")).json()
        if state["rows_done"] > 0:
            break
        await asyncio.sleep(0.02)
    assert state["status"] == "running" and 0 < state["rows_done"] < 300_000, state
    page = await (await client.get(f"/imports/{import_id}")).text()
    assert 'data-testid="import-progress"' in page

    await client.close()  # the application shuts down: its import is cancelled and awaited

    async with db() as session:
        row = await session.get(ContactImport, import_id)
    assert row is not None and row.status == "failed" and row.finished_at is not None
    assert row.report["error"] == "interrupted"
    assert await contacts(db) == 0
    assert list((tmp_path / "data" / "imports").iterdir()) == []


async def test_imports_are_for_managers_only(
    make_client: Callable[[str], Awaitable[TestClient[Any, Any]]],
) -> None:
    for login in ("op", "super"):
        client = await make_client(login)
        for path in ("/imports", "/imports/new", "/api/v1/imports/1"):
            assert (await client.get(path)).status == 403, (login, path)
        assert (await upload(client, b"a,b\r\n")).status == 403
        await client.close()


async def test_a_column_named_like_a_custom_field_imports_into_it_typed(
    db: async_sessionmaker[AsyncSession],
    make_client: Callable[[str], Awaitable[TestClient[Any, Any]]],
) -> None:
    async with db.begin() as session:
        session.add(
            CustomFieldDefinition(
                entity="contact",
                key="size",
                label_ru="Размер компании",
                value_type="choice",
                choices=["малая", "крупная"],
            )
        )
    client = await make_client("boss")
    data = (
        "ФИО;Телефон;Размер компании\n"
        "Петров Иван;89160000001;крупная\n"
        "Сидоров;89160000002;огромная\n"  # row 3: not one of the choices
    )
    uploaded = await upload(client, data.encode())
    mapping_url = uploaded.headers["Location"]
    page = await (await client.get(mapping_url)).text()
    assert '<option value="custom:size" selected>Размер компании</option>' in page

    started = await client.post(
        mapping_url + "/start",
        data={"column-0": "full_name", "column-1": "phone", "column-2": "custom:size"},
        allow_redirects=False,
    )
    assert started.status == 303
    import_id = int(started.headers["Location"].rsplit("/", 1)[1])
    state = await wait_done(client, import_id)
    assert (state["status"], state["created"], state["rejected"]) == ("done", 1, 1)
    report = await (await client.get(f"/imports/{import_id}")).text()
    assert "Допустимо одно из: малая, крупная." in report
    async with db() as session:
        fields = await session.scalar(select(Contact.custom_fields))
    assert fields == {"size": "крупная"}
