"""``callcenter demo``: everything a newcomer needs, in one command.

Embedded PostgreSQL with demo data, the real Asterisk sandbox with simulated
callers and auto-answering operator phones, and the web console. Where the sandbox
cannot be built (not root, not Debian) the AMI link is fed by a replay of traffic
recorded from the real sandbox instead, and the banner says so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from itertools import cycle
from pathlib import Path

from ami import sandbox
from ami.replay import ReplayAmiServer, default_trace
from ami.sandbox.sipp import Caller, CallSpec, Phone
from callcenter import database, demo_data
from callcenter.app.runtime import migrated_database, serve
from callcenter.passwords import generate_password
from callcenter.settings import Settings
from callcenter.web_leads import demo_web_forms

log = logging.getLogger(__name__)

# operators whose sandbox phones answer by themselves, and after how long they ring
AUTO_ANSWER = {"101": 5000, "102": 8000}
CALL_HOLD_MS = 12_000


def _demo_passwords(data_dir: Path) -> dict[str, str]:
    """Generated on the first run and kept (mode 0600) so later runs print them again."""
    path = data_dir / "demo-passwords.json"
    if path.exists():
        saved: dict[str, str] = json.loads(path.read_text())
        return saved
    passwords = {user.login: generate_password() for user in demo_data.DEMO_USERS}
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(passwords, out)
    return passwords


@asynccontextmanager
async def _telephony(settings: Settings) -> AsyncIterator[tuple[Settings, bool]]:
    """The real sandbox when it can run here, else a labelled replay.

    Yields the settings pointing at it and whether it is the real Asterisk.
    """
    try:
        if not sandbox.is_built():
            print("Building the Asterisk sandbox (once; about a minute)...", flush=True)
            await asyncio.to_thread(sandbox.build_root, progress=print)
        was_running = sandbox.sandbox_status().running
        status = await asyncio.to_thread(sandbox.sandbox_up)
    except sandbox.SandboxError as exc:
        print(f"The Asterisk sandbox cannot run here: {exc}", flush=True)
        print("Falling back to a REPLAY of AMI traffic recorded from the real sandbox.")
        async with ReplayAmiServer(default_trace()) as replay:
            yield dataclasses.replace(settings, ami_host=replay.host, ami_port=replay.port), False
        return
    try:
        yield (
            dataclasses.replace(
                settings,
                ami_host=sandbox.AMI_HOST,
                ami_port=status.ami_port,
                recordings_dir=settings.recordings_dir or status.recordings,
            ),
            True,
        )
    finally:
        if not was_running:
            await asyncio.to_thread(sandbox.sandbox_down)


def _start_simulated_calls(
    stack: AsyncExitStack, workdir: Path, callers: list[demo_data.DemoCaller], interval: float
) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    for extension, ring_ms in AUTO_ANSWER.items():
        stack.enter_context(Phone.operator(extension, workdir, ring_ms=ring_ms))
    dids = cycle(did.lstrip("+") for did in demo_data.TRACKING_NUMBERS)
    specs = [CallSpec(c.number, c.name, next(dids)) for c in callers]
    stack.enter_context(
        Caller(
            workdir,
            specs=specs,
            calls=1_000_000,
            rate=1 / interval,
            hold_ms=CALL_HOLD_MS,
            max_concurrent=4,
            name="demo-callers",
        )
    )


def _banner(address: str, passwords: dict[str, str], real_asterisk: bool, site_token: str) -> str:
    lines = ["", f"Callcenter demo is running: {address}", ""]
    for user in demo_data.DEMO_USERS:
        phone = f" (extension {user.extension})" if user.extension else ""
        lines.append(f"  {user.role:<11} {user.login:<11} {passwords[user.login]}{phone}")
    lines.append("")
    # the token changes on every start: only its hash is kept
    lines.append("Send a web-form lead (it becomes a task for a manager on duty):")
    lines.append(
        f"  curl -H 'Authorization: Bearer {site_token}' -H 'Content-Type: application/json' "
        f"""-d '{{"name": "Ольга", "phone": "+79161234567"}}' {address}/api/v1/leads"""
    )
    lines.append("")
    if real_asterisk:
        lines.append("Telephony: real Asterisk 22 sandbox on 127.0.0.1 with simulated callers.")
    else:
        lines.append("Telephony: REPLAY of recorded AMI traffic (no live Asterisk here).")
    lines.append("Stop with Ctrl-C.")
    return "\n".join(lines)


async def run_demo(settings: Settings, call_interval: float, simulate_calls: bool) -> int:
    passwords = _demo_passwords(settings.data_dir)
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(migrated_database(settings))
        engine = database.make_engine(url)
        try:
            async with database.make_sessionmaker(engine)() as session:
                if await demo_data.seed(session, passwords, region=settings.default_region):
                    print("Demo data loaded.", flush=True)
                callers = await demo_data.demo_callers(session)
                site_token = await demo_web_forms(session)
                await session.commit()
        finally:
            await engine.dispose()

        live_settings, real_asterisk = await stack.enter_async_context(_telephony(settings))

        async def ready(address: str) -> None:
            if real_asterisk and simulate_calls:
                _start_simulated_calls(
                    stack, settings.data_dir / "demo-sipp", callers, call_interval
                )
            print(_banner(address, passwords, real_asterisk, site_token), flush=True)

        await serve(live_settings, on_ready=ready, database_url=url, whole_process=True)
    return 0
