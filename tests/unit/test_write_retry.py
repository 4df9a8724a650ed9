"""A writer waiting out a database outage: capped delays, one line when it starts and
one when it ends, no traceback, no statement parameters (callers' numbers) in the log."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy.exc import OperationalError

from callcenter.write_retry import WriteRetry

log = logging.getLogger("tests.write_retry")


async def test_an_outage_is_told_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, log.name)
    retry = WriteRetry(log, "call log", delays=(0.001, 0.002))
    for _outage in range(2):
        for _ in range(20):
            await retry.failed(ConnectionRefusedError(111, "Connection refused"))
        assert retry.failing
        retry.succeeded()
        assert not retry.failing
        retry.succeeded()  # writes going on as usual say nothing
    assert retry.outages == 2
    told = [(r.levelno, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING]
    assert [level for level, _ in told] == [logging.ERROR, logging.WARNING] * 2
    assert "call log: cannot write (ConnectionRefusedError: " in told[0][1]
    assert told[1][1].startswith("call log: writing again after ") and "(20 failed" in told[1][1]
    assert not [r for r in caplog.records if r.exc_info]


async def test_the_delay_grows_to_its_cap_and_stays_there() -> None:
    retry = WriteRetry(log, "call log", delays=(0.01, 0.02, 0.05))
    waits = []
    for _ in range(5):
        before = time.monotonic()
        await retry.failed(OSError("gone"))
        waits.append(time.monotonic() - before)
    expected = (0.01, 0.02, 0.05, 0.05, 0.05)
    assert all(w >= d for w, d in zip(waits, expected, strict=True)), waits
    assert all(w < 0.5 for w in waits)  # never a hot spin, never a long sleep either


async def test_a_failed_statement_is_told_by_the_drivers_error_without_its_parameters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = OperationalError(
        "INSERT INTO calls (caller_number) VALUES ($1)",
        ("84951234567",),
        ConnectionResetError("connection was closed in the middle of operation"),
    )
    await WriteRetry(log, "call log", delays=(0,)).failed(error)
    assert "ConnectionResetError: connection was closed" in caplog.text
    assert "84951234567" not in caplog.text and "INSERT" not in caplog.text
