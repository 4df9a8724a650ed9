"""The Alembic history builds the schema the models describe, and takes it down again."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from callcenter.database import make_engine
from callcenter.migrate import COMPARE_OPTIONS, alembic_config, current, downgrade, upgrade
from callcenter.models import Base

pytestmark = pytest.mark.db


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async def run() -> list[tuple[Any, ...]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                result = await conn.execute(text(sql), params)
                return [tuple(row) for row in result]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def our_tables(url: str) -> set[str]:
    rows = query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {name for (name,) in rows}


def head() -> str:
    script = ScriptDirectory.from_config(alembic_config("postgresql:///unused"))
    heads = script.get_heads()
    assert len(heads) == 1, f"the history must be linear, heads: {heads}"
    return heads[0]


def test_history_is_linear() -> None:
    script = ScriptDirectory.from_config(alembic_config("postgresql:///unused"))
    revisions = list(script.walk_revisions())
    assert revisions, "no migrations found"
    assert all(not isinstance(r.down_revision, tuple) for r in revisions), "merge revision"
    assert head() == revisions[0].revision
    assert revisions[-1].down_revision is None


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    url = empty_database_url
    assert current(url) is None

    upgrade(url)
    assert current(url) == head()
    assert our_tables(url) == set(Base.metadata.tables) | {"alembic_version"}

    indexes = dict(
        query(url, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
    )
    for name, columns in [
        ("uq_contact_phones_e164", "(e164)"),
        ("uq_calls_linkedid", "(linkedid)"),
        ("uq_call_legs_uniqueid", "(uniqueid)"),
        ("uq_call_attempts_action_id", "(action_id)"),
        ("uq_leads_campaign_id_phone_e164", "(campaign_id, phone_e164)"),
        ("uq_users_login_lower", "(lower(login))"),
    ]:
        assert indexes[name].startswith("CREATE UNIQUE INDEX"), name
        assert indexes[name].endswith(columns), indexes[name]
    assert indexes["ix_interactions_contact_id_occurred_at"].endswith(
        "(contact_id, occurred_at DESC)"
    )

    checks = query(
        url,
        "SELECT conname FROM pg_constraint WHERE contype = 'c' AND conrelid = 'contacts'::regclass",
    )
    assert ("ck_contacts_refused_has_reason",) in checks

    downgrade(url, "base")
    assert current(url) is None
    assert our_tables(url) == {"alembic_version"}
    leftovers = query(
        url,
        "SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
        " WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')"
        " UNION ALL SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'public'"
        " UNION ALL SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'"
        " UNION ALL SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind = 'S'",
    )
    assert leftovers == []

    upgrade(url)
    assert current(url) == head()
    assert our_tables(url) == set(Base.metadata.tables) | {"alembic_version"}


def test_models_match_migrations(migrated_template_url: str) -> None:
    """Autogenerate finds nothing to do: models and migrations have not drifted apart."""

    def diff(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts=dict(COMPARE_OPTIONS))
        return list(compare_metadata(context, Base.metadata))

    async def run() -> list[Any]:
        engine = make_engine(migrated_template_url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(diff)
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == []


SCHEMA_SQL = """
SELECT 'constraint', conrelid::regclass::text, conname, pg_get_constraintdef(c.oid)
  FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
 WHERE n.nspname = 'public' AND conrelid::regclass::text <> 'alembic_version'
UNION ALL
SELECT 'index', tablename, indexname, indexdef
  FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'alembic_version'
UNION ALL
SELECT 'column', table_name, column_name,
       concat_ws(' ', data_type, is_nullable, column_default, is_identity, col_description(
           (quote_ident(table_schema) || '.' || quote_ident(table_name))::regclass,
           ordinal_position))
  FROM information_schema.columns
 WHERE table_schema = 'public' AND table_name <> 'alembic_version'
"""


def test_schema_equals_create_all(migrated_template_url: str, empty_database_url: str) -> None:
    """Constraints (CHECKs too, which autogenerate ignores), indexes and columns built by
    the migrations are exactly those ``Base.metadata.create_all`` builds."""

    async def create_all() -> None:
        engine = make_engine(empty_database_url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
        finally:
            await engine.dispose()

    asyncio.run(create_all())
    from_models = set(query(empty_database_url, SCHEMA_SQL))
    from_migrations = set(query(migrated_template_url, SCHEMA_SQL))
    assert sorted(from_migrations - from_models) == []
    assert sorted(from_models - from_migrations) == []
    assert {(kind, name) for kind, _, name, _ in from_models if kind == "constraint"} >= {
        ("constraint", "ck_contacts_refused_has_reason"),
        ("constraint", "ck_deals_lost_has_reason"),
    }


def test_the_url_is_never_logged(
    empty_database_url: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    parts = urlsplit(empty_database_url)
    secret = parts.password
    url = empty_database_url
    if not secret:
        # the test server trusts local connections, so a made-up password still connects
        secret = "not-for-logs-7f3a"
        user = parts.username or "postgres"
        host = parts.netloc.rsplit("@", 1)[-1]
        url = urlunsplit(parts._replace(netloc=f"{user}:{secret}@{host}"))
    caplog.set_level(logging.DEBUG)

    upgrade(url)
    downgrade(url, "base")

    captured = capsys.readouterr()
    assert secret not in caplog.text
    assert secret not in captured.out + captured.err


async def test_refuses_to_run_inside_an_event_loop() -> None:
    with pytest.raises(RuntimeError, match="to_thread"):
        upgrade("postgresql://nobody@/nowhere")
    with pytest.raises(RuntimeError, match="to_thread"):
        current("postgresql://nobody@/nowhere")


def test_concurrent_upgrades_do_not_collide(empty_database_url: str) -> None:
    """Web workers starting together may all migrate; an advisory lock serialises them."""
    # processes, not threads: Alembic's migration context is process-global
    code = "import os; from callcenter.migrate import upgrade; upgrade(os.environ['CC_TEST_URL'])"
    env = {**os.environ, "CC_TEST_URL": empty_database_url}
    workers = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(3)]
    try:
        assert [w.wait(timeout=120) for w in workers] == [0, 0, 0]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    assert current(empty_database_url) == head()
