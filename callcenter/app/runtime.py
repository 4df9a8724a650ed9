"""Wires the database, the AMI link and the web server into one running process."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.agi import routing_server
from ami.link import AmiLink
from ami.telephony import AmiTelephony
from callcenter import center_settings, database, recording_retention
from callcenter.app.collector import tune_for_serving
from callcenter.app.inbound import InboundPipeline
from callcenter.call_backlog import CallBacklog
from callcenter.day_figures import campaign_day_so_far, day_so_far
from callcenter.embedded_db import embedded_postgres
from callcenter.migrate import upgrade
from callcenter.reminders import ReminderLoop
from callcenter.settings import Settings
from callcenter.wallboard import Wallboard
from callcenter.wallboard_feed import WallboardFeed
from dialer.desk import Desk
from dialer.engine import DialerEngine
from web.app import create_app
from web.campaign_pages import DIALER_DESK
from web.hub import Hub
from web.state import WebServices
from web.tasks_api import REMINDERS
from web.telephony_status import announce_telephony
from web.wallboard_pages import WALLBOARD

log = logging.getLogger(__name__)

APP_DATABASE = "callcenter"
ORIGINATE_CONTEXT = "operators"


@asynccontextmanager
async def application_database(settings: Settings) -> AsyncIterator[str]:
    """Yield the URL of the application database (not migrated).

    With no DATABASE_URL an embedded PostgreSQL is started in the data folder and
    stopped when the context ends.
    """
    if settings.database_url is not None:
        yield settings.database_url.reveal()
        return
    async with AsyncExitStack() as stack:
        pgdata = settings.data_dir / "postgres"
        admin_url = await asyncio.to_thread(stack.enter_context, embedded_postgres(pgdata))
        await database.ensure_database(admin_url, APP_DATABASE)
        yield database.with_database(admin_url, APP_DATABASE)


@asynccontextmanager
async def migrated_database(settings: Settings) -> AsyncIterator[str]:
    """Yield the URL of the application database, migrated to head."""
    async with application_database(settings) as url:
        # alembic's env runs its own event loop, so it gets a thread of its own
        await asyncio.to_thread(upgrade, url)
        yield url


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[str], Awaitable[None]] | None = None,
    database_url: str | None = None,
    whole_process: bool = False,
) -> None:
    """Run web, AMI listener and dialer until ``stop`` is set (or SIGINT/SIGTERM).

    ``database_url``: an already migrated database (the demo prepares its own);
    otherwise the configured or embedded one is migrated and used.
    ``whole_process``: the process runs nothing else (``callcenter serve``, the demo),
    so its garbage collector is tuned for serving once start-up is done; a test that
    runs the product in its own process leaves the collector as it is.
    """
    stop = stop or _stop_on_signals()
    async with AsyncExitStack() as stack:
        if database_url is None:
            database_url = await stack.enter_async_context(migrated_database(settings))
        # no ping before every checkout: it doubles the round trips of the screen-pop's
        # lookup (p99 22.9 -> 18.5 ms in bench screen_pop); a connection broken by a
        # database restart fails once, invalidates the pool, and callers retry or degrade
        engine = database.make_engine(database_url, pool_pre_ping=False)
        stack.push_async_callback(engine.dispose)
        db = database.make_sessionmaker(engine)

        hub = Hub()
        # while the database is away, calls beyond call_log_memory wait on disk
        backlog = CallBacklog(
            settings.backlog_folder / "calls.jsonl", memory_limit=settings.call_log_memory
        )
        inbound = InboundPipeline(db, hub, region=settings.default_region, call_backlog=backlog)
        # a (re)connecting console draws what rings on its phone now, missed or not
        hub.calls_on = inbound.current_calls
        inbound.on_resynced = hub.refresh_calls
        # before the link: its first resync tells the wallboard the queues' members
        wallboard = await _wallboard(db, settings)
        inbound.show_on(wallboard)
        feed = WallboardFeed(
            wallboard, inbound.tracker.live_calls, inbound.devices.everyone, db, hub
        )
        link = AmiLink(
            settings.ami_host,
            settings.ami_port,
            settings.ami_username,
            settings.ami_secret,
            on_resync=inbound.resync,
            on_state_change=announce_telephony(hub),
        )
        await link.start()
        stack.push_async_callback(link.stop)
        telephony = AmiTelephony(link, originate_context=ORIGINATE_CONTEXT)
        # settles what an earlier dialer left in flight once it is elected
        dialer = DialerEngine(db, telephony)
        inbound.follow(dialer)
        dialer.on_settled = wallboard.attempt_settled
        feed.lines = dialer.lines

        # personal-manager routing: the FastAGI server the inbound dialplan asks
        # before Queue(); its open requests are cancelled on exit
        await stack.enter_async_context(
            routing_server(settings.agi_host, settings.agi_port, db, settings.default_region)
        )

        app = create_app(WebServices(settings, db, telephony), hub)
        app[DIALER_DESK] = Desk()  # campaign controls and preview dialling
        app[WALLBOARD] = feed
        reminders = ReminderLoop(db, hub)
        app[REMINDERS] = reminders  # the task pages wake it for a sooner reminder
        # open requests get this long at shutdown; websockets are closed by the hub first
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        await site.start()
        if whole_process:
            tune_for_serving()  # start-up is done: see callcenter/app/collector.py
        address = f"http://{settings.http_host}:{settings.http_port}"
        log.info("web console on %s", address)

        async with asyncio.TaskGroup() as tasks:
            listener = tasks.create_task(inbound.run(link), name="ami-listener")
            reminding = tasks.create_task(reminders.run(), name="task-reminders")
            dialling = tasks.create_task(dialer.run(), name="dialer")
            retention = tasks.create_task(
                recording_retention.run(db, settings.recordings_folder), name="recordings"
            )
            pushing = tasks.create_task(feed.run(), name="wallboard")
            if on_ready is not None:
                await on_ready(address)
            await stop.wait()
            listener.cancel()
            reminding.cancel()
            dialling.cancel()
            retention.cancel()
            pushing.cancel()
            # no new connections first: a browser whose websocket the hub closes would
            # reconnect at once and hold the shutdown up until its timeout
            await site.stop()
            await hub.close()
    log.info("stopped")


async def _wallboard(db: async_sessionmaker[AsyncSession], settings: Settings) -> Wallboard:
    zone = ZoneInfo(settings.time_zone)
    async with db() as session:
        sla = (await center_settings.load(session)).sla_seconds
        now = datetime.now(UTC)
        today = await day_so_far(session, zone, sla, now)
        campaigns = await campaign_day_so_far(session, zone, now)
    wallboard = Wallboard(zone=zone, sla_seconds=sla, today=today)
    wallboard.start_campaign_day(now.astimezone(zone).date(), campaigns)
    return wallboard


SHUTDOWN_SECONDS = 5.0


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
