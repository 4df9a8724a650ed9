"""`callcenter backup` and `callcenter restore` as a user runs them, on a populated database.

"Nothing lost" is checked table by table (row count and a checksum of the ordered
rows), sequence by sequence, and on the schema objects a dump could drop (functions,
triggers, indexes, constraints, comments, extensions); the trigger that keeps the
hourly call totals must still work after a restore.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from sqlalchemy import select, text

from callcenter import (
    audit,
    backup,
    center_settings,
    database,
    demo_data,
    funnel,
    pg_tools,
    pipeline,
    restore,
)
from callcenter.funnel import NewDeal, StageMove
from callcenter.migrate import upgrade
from callcenter.models import Contact, ContactPhone, TaskKind, User
from callcenter.tasks import NewTask, add_task
from callcenter.users import add_user
from tests.integration.test_cli import callcenter

pytestmark = pytest.mark.db

CALLS = 20_000
PASSWORDS = {user.login: f"backup-{user.login}-pw" for user in demo_data.DEMO_USERS}
# what COPY and text checksums could get wrong: Cyrillic, emoji, tab, newline, backslash
ODD = "Ёлкин «Ромашка» 📞\ttab\nnew line \\ backslash 'single' \"double\" |pipe| NULL \\N"
T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)

BULK_CALLS = """
WITH c AS (SELECT array_agg(id ORDER BY id) AS ids FROM contacts),
     u AS (SELECT array_agg(id ORDER BY id) AS ids FROM users WHERE role = 'operator'),
     s AS (SELECT g, CAST(:t0 AS timestamptz) + g * interval '97 seconds' AS at,
                  g % 4 IN (0, 3) AS answered
             FROM generate_series(1, CAST(:n AS integer)) g)
INSERT INTO calls (linkedid, direction, caller_number, caller_e164, caller_name, did,
                   queue_name, contact_id, answered_by_id, started_at, answered_at, ended_at,
                   wait_seconds, talk_seconds, result, hangup_cause, caller_region, note)
SELECT 'bulk-' || g,
       CASE WHEN g % 5 = 0 THEN 'outbound' ELSE 'inbound' END,
       '8495' || lpad(g::text, 7, '0'), '+7495' || lpad(g::text, 7, '0'),
       CASE WHEN g % 7 = 0 THEN 'Пётр Ёлкин №' || g END,
       '+74951112233',
       CASE WHEN g % 2 = 0 THEN 'продажи' ELSE 'support' END,
       CASE WHEN g % 3 <> 0 THEN c.ids[1 + g % array_length(c.ids, 1)] END,
       CASE WHEN answered THEN u.ids[1 + g % array_length(u.ids, 1)] END,
       at,
       CASE WHEN answered THEN at + interval '12 s' END,
       at + interval '200 s',
       12,
       CASE WHEN answered THEN 188 ELSE 0 END,
       CASE g % 4 WHEN 1 THEN 'abandoned' WHEN 2 THEN 'missed' ELSE 'answered' END,
       16, 'Москва',
       CASE WHEN g % 1000 = 0 THEN CAST(:odd AS text) END
  FROM s, c, u
"""
BULK_LEGS = """
INSERT INTO call_legs (call_id, uniqueid, channel, user_id, interface, kind,
                       rang_at, answered_at, ended_at, hangup_cause)
SELECT id, linkedid || '.1', 'PJSIP/trunk-' || id, NULL, NULL, 'caller',
       started_at, answered_at, ended_at, 16
  FROM calls WHERE linkedid LIKE 'bulk-%'
UNION ALL
SELECT id, linkedid || '.2', 'PJSIP/op-' || id, answered_by_id, 'PJSIP/op101', 'agent',
       started_at + interval '2 s', answered_at, ended_at, 16
  FROM calls WHERE linkedid LIKE 'bulk-%' AND answered_by_id IS NOT NULL
"""


async def populate(url: str, calls: int = CALLS) -> None:
    """Every kind of thing the product keeps, written by the product's own functions;
    the bulk of calls by SQL (the hourly-totals trigger counts each)."""
    engine = database.make_engine(url)
    db = database.make_sessionmaker(engine)
    try:
        async with db() as session:
            assert await demo_data.seed(session, PASSWORDS, contacts=300)
            await session.commit()
        async with db() as session:
            users = {user.login: user for user in await session.scalars(select(User))}
            manager, operator = users["manager"], users["op101"]
            contacts = list(await session.scalars(select(Contact.id).order_by(Contact.id)))
            odd = Contact(
                first_name="Пётр", last_name=ODD, tags=["VIP", "ёж"], custom_fields={"о": ODD}
            )
            session.add(odd)
            await session.flush()
            session.add(
                ContactPhone(contact_id=odd.id, raw="8 (499) 000-00-01", e164="+74990000001")
            )
            stages = {stage.name: stage for stage in await pipeline.stages(session)}
            refusal = (await pipeline.refusal_reasons(session))[0]
            for n, contact_id in enumerate(contacts[:30]):
                deal = await funnel.create_deal(
                    session,
                    NewDeal(f"Окна №{n} «под ключ»", contact_id, amount=Decimal("1250.50") + n),
                    manager,
                )
                await funnel.move_deal(
                    session, deal.id, StageMove(stages["Переговоры"].id), manager
                )
                if n % 3 == 0:
                    await funnel.move_deal(
                        session, deal.id, StageMove(stages["Успешно"].id), manager
                    )
                elif n % 3 == 1:
                    lost = StageMove(stages["Отказ"].id, refusal.id)
                    await funnel.move_deal(session, deal.id, lost, manager)
            for n, contact_id in enumerate(contacts[30:90]):
                new = NewTask(
                    TaskKind.CALLBACK,
                    f"Перезвонить клиенту {n}",
                    operator.id,
                    contact_id=contact_id,
                    due_at=T0 + timedelta(hours=n),
                    notes=ODD if n % 5 == 0 else None,
                    created_by_id=manager.id,
                )
                await add_task(session, new)
            for n in range(300):
                contact_id = contacts[n % len(contacts)]
                await audit.record(
                    session, manager, "contact.read", "contact", contact_id, "10.0.0.7", n=n
                )
            await audit.record(session, None, "contacts.export", note=ODD)
            await center_settings.save(session, "sla_seconds", 30, manager.id)
            await center_settings.save(session, "operators_see_own_clients_only", True, manager.id)
            await session.commit()
        async with engine.begin() as conn:
            await conn.execute(text(BULK_CALLS), {"t0": T0, "odd": ODD, "n": calls})
            await conn.execute(text(BULK_LEGS))
    finally:
        await engine.dispose()


SCHEMA = {
    "columns": "SELECT table_name, column_name, data_type, column_default, is_nullable"
    " FROM information_schema.columns WHERE table_schema = 'public'",
    "functions": "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p"
    " WHERE p.pronamespace = 'public'::regnamespace AND p.prokind IN ('f', 'p')",
    "triggers": "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal",
    "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
    " FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
    "comments": "SELECT c.relname, d.objsubid, d.description FROM pg_description d"
    " JOIN pg_class c ON c.oid = d.objoid WHERE c.relnamespace = 'public'::regnamespace",
    "extensions": "SELECT extname, extversion FROM pg_extension",
    "sequences": "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'",
}


async def _fingerprint(url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(database.libpq_url(url))
    try:
        found: dict[str, Any] = {}
        names = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        for (name,) in sorted(names):
            rows = "md5(string_agg(t::text, '|' ORDER BY t::text))"
            query = f'SELECT count(*), {rows} FROM "{name}" t'  # noqa: S608 - catalog names
            count, digest = await conn.fetchrow(query)
            found[f"table {name}"] = (count, digest)
        for part, query in SCHEMA.items():
            found[part] = sorted(tuple(row) for row in await conn.fetch(query))
        return found
    finally:
        await conn.close()


def fingerprint(url: str) -> dict[str, Any]:
    return asyncio.run(_fingerprint(url))


def leftovers(server_url: str, url: str) -> list[str]:
    """Databases a restore into ``url`` made and did not clean up."""

    async def names() -> list[str]:
        conn = await asyncpg.connect(database.libpq_url(server_url))
        try:
            rows = await conn.fetch("SELECT datname FROM pg_database")
        finally:
            await conn.close()
        prefix = database.database_name(url)[:40]
        return [n for (n,) in rows if re.fullmatch(f"{prefix}_(restore|replaced)_[0-9a-f]{{8}}", n)]

    return asyncio.run(names())


def env_for(url: str, data_dir: Path) -> dict[str, str]:
    return {"CALLCENTER_DATABASE_URL": url, "CALLCENTER_DATA_DIR": str(data_dir)}


@contextmanager
def new_database(server_url: str, template: str | None = None) -> Iterator[str]:
    name = "cc_test_backup_" + secrets.token_hex(4)
    asyncio.run(database.ensure_database(server_url, name, template=template))
    try:
        yield database.with_database(server_url, name)
    finally:
        asyncio.run(database.drop_database(server_url, name))


@pytest.fixture(scope="module")
def populated_url(pg_server_url: str, _pristine_template_url: str) -> Iterator[str]:
    """A database at head full of representative data; tests only read it."""
    template = database.database_name(_pristine_template_url)
    with new_database(pg_server_url, template) as url:
        asyncio.run(populate(url))
        yield url


@pytest.fixture(scope="module")
def populated_fingerprint(populated_url: str) -> dict[str, Any]:
    return fingerprint(populated_url)


@pytest.fixture(scope="module")
def backup_file(populated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("backups")
    out = folder / "full.dump"
    result = callcenter("backup", "--output", str(out), env=env_for(populated_url, folder))
    assert result.returncode == 0, result.stderr
    assert f"backup written to {out} (" in result.stdout
    return out


@pytest.fixture
def other_database_url(pg_server_url: str, _pristine_template_url: str) -> Iterator[str]:
    """A migrated database holding some data of its own: a restore must not lose it by mistake."""
    template = database.database_name(_pristine_template_url)
    with new_database(pg_server_url, template) as url:

        async def own_data() -> None:
            engine = database.make_engine(url)
            async with database.make_sessionmaker(engine)() as session:
                await add_user(
                    session,
                    login="ivanova",
                    full_name="Анна Иванова",
                    role="admin",
                    password="x" * 12,
                )
                await session.commit()
            await engine.dispose()

        asyncio.run(own_data())
        yield url


@pytest.mark.parametrize(("command", "expected"), [("backup", "--output"), ("restore", "--yes")])
def test_both_commands_have_useful_help(command: str, expected: str) -> None:
    result = callcenter(command, "--help")
    assert result.returncode == 0 and expected in result.stdout, result.stderr
    # what to do beside the command: copy the recordings; stop the server first
    assert ("recordings" if command == "backup" else "serve") in result.stdout


def test_a_populated_database_round_trips_with_nothing_lost(
    populated_url: str,
    populated_fingerprint: dict[str, Any],
    backup_file: Path,
    empty_database_url: str,
    pg_server_url: str,
    tmp_path: Path,
) -> None:
    assert populated_fingerprint["table calls"][0] == CALLS
    assert populated_fingerprint["table call_legs"][0] > CALLS
    for table in ("users", "contacts", "contact_phones", "tasks", "deals", "deal_stage_changes"):
        assert populated_fingerprint[f"table {table}"][0] > 0, table
    for table in ("audit_log", "app_settings", "interactions", "call_hour_totals"):
        assert populated_fingerprint[f"table {table}"][0] > 0, table
    # the file: whole (no partial left beside it) and for its owner's eyes only
    assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600
    assert [p.name for p in backup_file.parent.iterdir()] == [backup_file.name]

    result = callcenter("restore", str(backup_file), env=env_for(empty_database_url, tmp_path))
    assert result.returncode == 0, result.stderr
    assert "restored database" in result.stdout
    assert fingerprint(empty_database_url) == populated_fingerprint
    assert leftovers(pg_server_url, empty_database_url) == []


async def test_after_a_restore_new_rows_get_new_ids_and_the_totals_trigger_works(
    backup_file: Path, empty_database_url: str, tmp_path: Path
) -> None:
    env = env_for(empty_database_url, tmp_path)
    result = await asyncio.to_thread(callcenter, "restore", str(backup_file), env=env)
    assert result.returncode == 0, result.stderr
    engine = database.make_engine(empty_database_url)
    db = database.make_sessionmaker(engine)
    hour = T0 + timedelta(days=60)
    totals = text("SELECT coalesce(sum(calls), 0) FROM call_hour_totals WHERE hour = :hour")
    try:
        async with db() as session:
            assert await session.scalar(totals, {"hour": hour}) == 0
            user = await add_user(
                session, login="novikov", full_name="Новиков", role="operator", password="x" * 12
            )
            contact = Contact(first_name="Новый", last_name="Клиент")
            session.add(contact)
            await session.flush()
            await session.execute(
                text(
                    "INSERT INTO calls (linkedid, direction, started_at, answered_at, result,"
                    " answered_by_id, contact_id, talk_seconds)"
                    " VALUES ('after-restore', 'inbound', :at, :at, 'answered', :user, :contact, 5)"
                ),
                {"at": hour, "user": user.id, "contact": contact.id},
            )
            await session.commit()
            assert await session.scalar(totals, {"hour": hour}) == 1
            biggest = await session.scalar(
                text("SELECT max(id) FROM calls WHERE linkedid LIKE 'bulk-%'")
            )
            fresh = await session.scalar(
                text("SELECT id FROM calls WHERE linkedid = 'after-restore'")
            )
            assert fresh > biggest
    finally:
        await engine.dispose()


def test_by_default_a_backup_is_dated_in_the_data_folder(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "recordings").mkdir()
    (tmp_path / "recordings" / "call-1.wav").write_bytes(b"RIFF")
    env = env_for(database_url, tmp_path)
    first = callcenter("backup", env=env)
    second = callcenter("backup", env=env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    made = sorted((tmp_path / "backups").iterdir())
    assert len(made) == 2
    for path in made:
        assert re.fullmatch(r"callcenter-\d{8}-\d{6}(-\d+)?\.dump", path.name), path.name
        assert f"backup written to {path} (" in first.stdout + second.stdout
    assert re.search(r"\(\d+\.\d (KiB|MiB), \d+ tables, \d+\.\d s\)", first.stdout)
    # recordings are files: the command says to copy them
    assert f"copy {tmp_path / 'recordings'} as well" in first.stdout
    assert stat.S_IMODE((tmp_path / "backups").stat().st_mode) == 0o700


def test_restore_into_a_database_with_data_needs_yes(
    backup_file: Path,
    other_database_url: str,
    populated_fingerprint: dict[str, Any],
    pg_server_url: str,
    tmp_path: Path,
) -> None:
    env = env_for(other_database_url, tmp_path)
    before = fingerprint(other_database_url)
    refused = callcenter("restore", str(backup_file), env=env)
    assert refused.returncode == 2
    assert "already holds data (users)" in refused.stderr
    assert "--yes" in refused.stderr and "Nothing was changed" in refused.stderr
    assert fingerprint(other_database_url) == before

    replaced = callcenter("restore", str(backup_file), "--yes", env=env)
    assert replaced.returncode == 0, replaced.stderr
    assert "replaced the data of database" in replaced.stdout
    assert fingerprint(other_database_url) == populated_fingerprint
    assert leftovers(pg_server_url, other_database_url) == []


def test_a_freshly_migrated_database_counts_as_empty(
    backup_file: Path, database_url: str, populated_fingerprint: dict[str, Any], tmp_path: Path
) -> None:
    # only the defaults migration 0004 put there: the funnel stages, reasons, results
    result = callcenter("restore", str(backup_file), env=env_for(database_url, tmp_path))
    assert result.returncode == 0, result.stderr
    assert fingerprint(database_url) == populated_fingerprint


def test_restore_refuses_a_file_that_is_not_a_callcenter_backup(
    other_database_url: str, empty_database_url: str, pg_server_url: str, tmp_path: Path
) -> None:
    env = env_for(other_database_url, tmp_path)
    before = fingerprint(other_database_url)
    text_file = tmp_path / "notes.dump"
    text_file.write_text("это не резервная копия\n")
    # a real pg_dump archive, of some other database
    asyncio.run(_execute(empty_database_url, "CREATE TABLE notes (body text)"))
    foreign = tmp_path / "foreign.dump"
    dumped = _pg_dump(empty_database_url, foreign)
    assert dumped.returncode == 0, dumped.stderr

    for path, message in (
        (text_file, "is not a readable Callcenter backup"),
        (foreign, "not of a Callcenter database"),
        (tmp_path / "missing.dump", "no such file"),
    ):
        result = callcenter("restore", str(path), "--yes", env=env)
        assert result.returncode == 2, (path, result.stderr)
        assert message in result.stderr and "Nothing was changed" in result.stderr
    assert fingerprint(other_database_url) == before
    assert leftovers(pg_server_url, other_database_url) == []


@pytest.mark.parametrize("kept", [0.3, 0.97])
def test_a_truncated_backup_leaves_the_old_data_intact(
    kept: float, backup_file: Path, other_database_url: str, pg_server_url: str, tmp_path: Path
) -> None:
    whole = backup_file.read_bytes()
    cut = tmp_path / "cut.dump"
    cut.write_bytes(whole[: int(len(whole) * kept)])
    before = fingerprint(other_database_url)
    result = callcenter("restore", str(cut), "--yes", env=env_for(other_database_url, tmp_path))
    assert result.returncode in (1, 2), result.stdout
    assert "was not changed" in result.stderr or "Nothing was changed" in result.stderr
    assert fingerprint(other_database_url) == before
    assert leftovers(pg_server_url, other_database_url) == []


def test_restore_refuses_a_database_in_use(
    backup_file: Path, other_database_url: str, pg_server_url: str, tmp_path: Path
) -> None:
    async def while_connected() -> tuple[int, str]:
        conn = await asyncpg.connect(database.libpq_url(other_database_url))
        try:
            env = env_for(other_database_url, tmp_path)
            result = await asyncio.to_thread(
                callcenter, "restore", str(backup_file), "--yes", env=env
            )
            return result.returncode, result.stderr
        finally:
            await conn.close()

    before = fingerprint(other_database_url)
    code, stderr = asyncio.run(while_connected())
    assert code == 2
    assert "is in use (1 other connection(s)): stop callcenter serve" in stderr
    assert fingerprint(other_database_url) == before
    assert leftovers(pg_server_url, other_database_url) == []


def test_a_backup_of_an_older_schema_is_migrated_on_restore(
    pg_server_url: str, tmp_path: Path
) -> None:
    with new_database(pg_server_url) as old_url:
        upgrade(old_url, "0007")
        asyncio.run(
            _execute(
                old_url,
                "INSERT INTO calls (linkedid, direction, started_at, answered_at, result,"
                " talk_seconds) VALUES ('old-1', 'inbound', '2026-11-01 10:15+00',"
                " '2026-11-01 10:15:10+00', 'answered', 42)",
            )
        )
        out = tmp_path / "old.dump"
        made = callcenter("backup", "-o", str(out), env=env_for(old_url, tmp_path))
        assert made.returncode == 0, made.stderr
    with new_database(pg_server_url) as new_url:
        result = callcenter("restore", str(out), env=env_for(new_url, tmp_path))
        assert result.returncode == 0, result.stderr
        assert "migrated from schema 0007 to 0008" in result.stdout

        async def check() -> None:
            conn = await asyncpg.connect(database.libpq_url(new_url))
            try:
                assert await conn.fetchval("SELECT version_num FROM alembic_version") == "0008"
                # 0008's totals were built from the restored call
                assert await conn.fetchval("SELECT sum(talk_seconds) FROM call_hour_totals") == 42
            finally:
                await conn.close()

        asyncio.run(check())


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(database.libpq_url(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_dump(url: str, out: Path) -> Any:
    import subprocess

    server = asyncio.run(_server_major(url))
    tools = pg_tools.tools_for(server, pg_tools.installed_tools())[0]
    dbname, env = pg_tools.split_password(url)
    return subprocess.run(
        [tools("pg_dump"), "-Fc", f"--file={out}", f"--dbname={dbname}"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


async def _server_major(url: str) -> int:
    conn = await asyncpg.connect(database.libpq_url(url))
    try:
        return int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(database.libpq_url(url))
    user = parts.username or "postgres"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


async def test_the_password_goes_to_the_tools_by_environment_only(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the test servers trust local connections, so any password is accepted
    password = "s3cret-пароль"
    url = _with_password(database_url, password)
    seen: list[tuple[tuple[str, ...], dict[str, str]]] = []
    spawn = asyncio.create_subprocess_exec

    async def recording(*args: str, **kwargs: Any) -> asyncio.subprocess.Process:
        seen.append((args, kwargs["env"]))
        return await spawn(*args, **kwargs)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", recording)
    made = await backup.backup(url, tmp_path / "b.dump")
    assert made.size > 0
    assert seen and all(password not in " ".join(args) for args, _ in seen)
    assert seen[0][1]["PGPASSWORD"] == password


async def test_a_backup_that_fails_leaves_the_earlier_file_whole(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("pg_dump", "pg_restore", "psql"):
        script = fake / name
        # writes half a file, then fails as pg_dump does when the connection drops
        script.write_text(
            "#!/bin/sh\nfor a; do case $a in --file=*) echo partial > ${a#--file=};; esac; done\n"
            "echo 'pg_dump: error: connection lost' >&2\nexit 1\n"
        )
        script.chmod(0o755)
    major = await _server_major(database_url)
    monkeypatch.setattr(pg_tools, "installed_tools", lambda: [pg_tools.PgTools(major, fake)])
    out = tmp_path / "out"
    out.mkdir()
    earlier = out / "nightly.dump"
    earlier.write_bytes(b"the earlier backup")
    with pytest.raises(pg_tools.BackupError, match="connection lost"):
        await backup.backup(database_url, earlier)
    assert earlier.read_bytes() == b"the earlier backup"
    assert [p.name for p in out.iterdir()] == ["nightly.dump"]


def test_the_newest_tools_alone_round_trip_on_this_server(
    populated_url: str,
    populated_fingerprint: dict[str, Any],
    empty_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only the newest tools installed (the embedded ones), as on a machine without the
    server's own client. Against an older server (the machine's PostgreSQL 15 in the
    second pass) pg_dump dumps it and pg_restore's SET transaction_timeout, which it
    does not know, is let through; against the embedded server they are its own."""
    newest = pg_tools.installed_tools()[0]
    assert newest.major >= asyncio.run(_server_major(populated_url))
    monkeypatch.setattr(pg_tools, "installed_tools", lambda: [newest])
    out = tmp_path / "newer.dump"
    asyncio.run(backup.backup(populated_url, out))
    done = asyncio.run(restore.restore(empty_database_url, out, replace=False))
    assert done.revision == done.head
    assert fingerprint(empty_database_url) == populated_fingerprint
