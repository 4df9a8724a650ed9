"""What the CLI sub-commands do (parsing stays in ``callcenter.cli``)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from callcenter import database
from callcenter.app.runtime import application_database, migrated_database
from callcenter.migrate import upgrade
from callcenter.passwords import generate_password
from callcenter.settings import Settings
from callcenter.users import UserError
from callcenter.users import add_user as create_user

if TYPE_CHECKING:
    from ami.sandbox import SandboxStatus


async def migrate(settings: Settings, revision: str) -> int:
    async with application_database(settings) as url:
        await asyncio.to_thread(upgrade, url, revision)
    print(f"database migrated to {revision}")
    return 0


def _read_password(from_stdin: bool) -> tuple[str, bool]:
    """The password, and whether it was generated (and so must be shown)."""
    if not from_stdin:
        return generate_password(), True
    if sys.stdin.isatty():
        return getpass.getpass("Password: "), False
    return sys.stdin.readline().rstrip("\n"), False


async def add_user(settings: Settings, args: argparse.Namespace) -> int:
    password, generated = _read_password(args.password_stdin)
    async with migrated_database(settings) as url:
        engine = database.make_engine(url)
        try:
            async with database.make_sessionmaker(engine)() as session:
                user = await create_user(
                    session,
                    login=args.login,
                    full_name=args.name,
                    role=args.role,
                    password=password,
                    extension=args.extension,
                    device=args.device,
                    language=args.language,
                )
                await session.commit()
        except UserError as exc:
            print(f"callcenter users add: {exc}", file=sys.stderr)
            return 2
        except IntegrityError:
            print(
                "callcenter users add: that extension or device already belongs to another user",
                file=sys.stderr,
            )
            return 2
        finally:
            await engine.dispose()
    print(f"created {user.role} {user.login} (extension {user.extension or '-'})")
    if generated:
        print(f"password: {password}")
    return 0


def asterisk_sandbox(action: str) -> int:
    from ami.sandbox import SandboxError, build_root, sandbox_down, sandbox_status, sandbox_up

    try:
        if action == "build":
            path = build_root(progress=print)
            print(f"Asterisk root ready in {path}")
        elif action == "up":
            status = sandbox_up()
            print(f"Asterisk sandbox running (pid {status.pid}), AMI port {status.ami_port}")
        elif action == "down":
            sandbox_down()
            print("Asterisk sandbox stopped")
        else:
            print(_describe(sandbox_status()))
    except SandboxError as exc:
        print(f"callcenter asterisk-sandbox {action}: {exc}", file=sys.stderr)
        return 1
    return 0


def _describe(status: SandboxStatus) -> str:
    lines = [
        f"root:     {status.root} ({'built' if status.built else 'not built'})",
        f"asterisk: {status.asterisk_version or 'unknown version'}",
        f"running:  {'yes, pid ' + str(status.pid) if status.running else 'no'}",
        f"AMI:      {status.ami_host}:{status.ami_port}   SIP: 127.0.0.1:{status.sip_port}",
        f"CDR:      {status.cdr_csv}",
        f"log:      {status.log}",
    ]
    return "\n".join(lines)
