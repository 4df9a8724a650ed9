"""Fixtures for tests against the real sandbox Asterisk and sipp phones.

Without the parts (not root, root not built, no sipp) these tests skip on a
laptop and fail with CI=true (``tests.parts.missing``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ami.sandbox import (
    SandboxError,
    SandboxStatus,
    hangup_all,
    is_built,
    root_path,
    sandbox_down,
    sandbox_status,
    sandbox_up,
)
from ami.sandbox.sipp import Caller, Phone
from tests.parts import missing


@pytest.fixture(scope="session")
def asterisk_sandbox() -> Iterator[SandboxStatus]:
    """The running sandbox Asterisk; stopped at the end only if this session started it."""
    if os.geteuid() != 0:
        missing("Asterisk", "the sandbox runs Asterisk in a chroot, which needs root")
    if not is_built():
        missing(
            "Asterisk",
            f"the sandbox root is not built ({root_path()}): "
            "run `callcenter asterisk-sandbox build`",
        )
    already_running = sandbox_status().running
    try:
        status = sandbox_up(timeout=60)
    except SandboxError as exc:
        missing("Asterisk", f"the sandbox did not start: {exc}")
    hangup_all()  # calls left over by an earlier run would keep operators busy
    yield status
    if not already_running:
        sandbox_down()


@pytest.fixture
def sipp_dir(tmp_path: Path) -> Path:
    if shutil.which("sipp") is None:
        missing("sipp", "apt-get install sip-tester")
    return tmp_path / "sipp"


@pytest.fixture
def customers(asterisk_sandbox: SandboxStatus, sipp_dir: Path) -> Iterator[Callable[..., Phone]]:
    """``customers(ring_ms=..., talk_ms=...)``: the trunk's customers, each doing what its
    number says (``ami/sandbox/scenarios/customers_uas.xml``); stopped at teardown."""
    phones: list[Phone] = []

    def start(**options: Any) -> Phone:
        phone = Phone.customers(sipp_dir, by_number=True, **options)
        phones.append(phone)
        return phone.start()

    yield start
    for phone in phones:
        phone.stop()


@pytest.fixture
def operator_phone(
    asterisk_sandbox: SandboxStatus, sipp_dir: Path
) -> Iterator[Callable[..., Phone]]:
    """``operator_phone("101", ring_ms=1000)`` starts op101's sipp phone; stopped at teardown."""
    phones: list[Phone] = []

    def start(extension: str | int = "101", **options: Any) -> Phone:
        phone = Phone.operator(extension, sipp_dir, **options)
        phones.append(phone)
        return phone.start()

    yield start
    for phone in phones:
        phone.stop()
    hangup_all()


@pytest.fixture
def sipp_caller(asterisk_sandbox: SandboxStatus, sipp_dir: Path) -> Iterator[Callable[..., Caller]]:
    """``sipp_caller(did=..., cidnum=..., cidname=..., hold_ms=...)`` starts calling."""
    callers: list[Caller] = []

    def start(**options: Any) -> Caller:
        caller = Caller(sipp_dir, **options)
        callers.append(caller)
        return caller.start()

    yield start
    for caller in callers:
        caller.stop()
    hangup_all()
