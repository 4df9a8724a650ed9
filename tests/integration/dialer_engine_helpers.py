"""Set-up for the dialer engine's tests on the sandbox: a campaign, the engine, the AMI wire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.link import AmiLink
from ami.telephony import AmiTelephony
from callcenter.app.inbound import InboundPipeline
from callcenter.models import CallAttempt, Campaign, CampaignOperator, Lead, User
from callcenter.settings import Secret
from callcenter.users import add_user
from dialer.engine import DialerEngine
from tests.integration.cti_helpers import RecordingNotifier, until
from tests.integration.test_ami_link import AmiProxy

# spread round the clock: one of them is always in the middle of its day
_ZONES = (
    "Pacific/Honolulu",
    "America/Los_Angeles",
    "America/New_York",
    "America/Sao_Paulo",
    "UTC",
    "Europe/Moscow",
    "Asia/Yekaterinburg",
    "Asia/Krasnoyarsk",
    "Asia/Vladivostok",
    "Asia/Kamchatka",
)

# what the sandbox customers do (ami/sandbox/scenarios/customers_uas.xml)
ANSWERS = "+7495100"
BUSY = "+7495486"
DECLINES = "+7495603"
FORBIDS = "+7495403"
RINGS_OUT = "+7495180"
MACHINE = "+7495777"


def open_zone() -> str:
    """A zone where it is now mid-day, so the calling windows (09:00-21:00) are open."""
    now = datetime.now(UTC)

    def distance(zone: str) -> float:
        local = now.astimezone(ZoneInfo(zone))
        return abs(local.hour + local.minute / 60 - 14)

    return min(_ZONES, key=distance)


@dataclass
class Floor:
    campaign_id: int
    operators: dict[str, User]  # extension -> user
    leads: dict[str, int]  # e164 -> lead id


async def make_campaign(
    db: async_sessionmaker[AsyncSession],
    numbers: Sequence[str],
    *,
    extensions: Sequence[str] = ("106",),
    mode: str = "progressive",
    **settings: Any,
) -> Floor:
    zone = open_zone()
    async with db() as session:
        operators = {}
        for ext in extensions:
            operators[ext] = await add_user(
                session,
                login=f"op{ext}",
                full_name=f"Оператор {ext}",
                role="operator",
                password="correct-horse",
                extension=ext,
                device=f"PJSIP/op{ext}",
            )
        values: dict[str, Any] = {
            "name": "Обзвон",
            "mode": mode,
            "status": "running",
            "is_advertising": False,
            "max_attempts": 1,
        }
        campaign = Campaign(**(values | settings))
        session.add(campaign)
        await session.flush()
        for user in operators.values():
            session.add(CampaignOperator(campaign_id=campaign.id, user_id=user.id))
        leads = {}
        for number in numbers:
            lead = Lead(
                campaign_id=campaign.id,
                phone_raw=number,
                phone_e164=number,
                time_zone=zone,
                status="new",
                attempts=0,
            )
            session.add(lead)
            await session.flush()
            leads[number] = lead.id
        await session.commit()
    return Floor(campaign.id, operators, leads)


@dataclass
class Dialer:
    engine: DialerEngine
    inbound: InboundPipeline
    link: AmiLink
    telephony: AmiTelephony
    notifier: RecordingNotifier
    proxy: AmiProxy

    def new_engine(self) -> DialerEngine:
        """Another engine on the same link (a restarted dialer), following the calls."""
        engine = DialerEngine(self.engine._db, self.telephony, ring_seconds=15, tick_seconds=0.2)
        self.inbound.follow(engine)
        return engine


@asynccontextmanager
async def running_dialer(
    db: async_sessionmaker[AsyncSession], proxy: AmiProxy, *, start_engine: bool = True
) -> AsyncIterator[Dialer]:
    """What ``serve`` runs for the dialer, its AMI link through ``proxy`` (the wire log)."""
    notifier = RecordingNotifier()
    inbound = InboundPipeline(db, notifier, region="RU")
    link = AmiLink(
        "127.0.0.1",
        proxy.port,
        "callcenter",
        Secret("callcenter-sandbox"),
        on_resync=inbound.resync,
        reconnect_seconds=0.2,
        reconnect_max_seconds=0.5,
    )
    telephony = AmiTelephony(link, originate_context="operators")
    engine = DialerEngine(db, telephony, ring_seconds=15, tick_seconds=0.2)
    inbound.follow(engine)
    await link.start()
    listener = asyncio.create_task(inbound.run(link))
    try:
        await link.wait_connected(10)
        dialer = Dialer(engine, inbound, link, telephony, notifier, proxy)
        if start_engine:
            async with engine_running(engine):
                yield dialer
        else:
            yield dialer
        await asyncio.wait_for(inbound.call_log.drained(), 10)
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await link.stop()


@asynccontextmanager
async def engine_running(engine: DialerEngine) -> AsyncIterator[None]:
    task = asyncio.create_task(engine.run())
    try:
        await asyncio.wait_for(engine.elected.wait(), 10)
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def wire_actions(sent: bytes) -> list[dict[str, str]]:
    """The actions the link wrote, in order (repeated headers, as Variable, joined by ";")."""
    actions = []
    for frame in sent.decode("utf-8", "replace").split("\r\n\r\n"):
        fields: dict[str, str] = {}
        for line in frame.split("\r\n"):
            key, _, value = line.partition(": ")
            if key:
                fields[key] = f"{fields[key]};{value}" if key in fields else value
        if "Action" in fields:
            actions.append(fields)
    return actions


def originates(sent: bytes) -> list[dict[str, str]]:
    return [a for a in wire_actions(sent) if a["Action"] == "Originate"]


def dialled_number(originate: dict[str, str]) -> str:
    """``PJSIP/74951000001@trunk`` -> ``+74951000001``."""
    return "+" + originate["Channel"].split("/", 1)[1].split("@", 1)[0]


async def attempts(db: async_sessionmaker[AsyncSession], campaign_id: int) -> list[CallAttempt]:
    async with db() as session:
        rows = await session.scalars(
            select(CallAttempt)
            .where(CallAttempt.campaign_id == campaign_id)
            .order_by(CallAttempt.id)
        )
        return list(rows)


async def settled(db: async_sessionmaker[AsyncSession], campaign_id: int, count: int) -> None:
    """Until ``count`` attempts of the campaign have an outcome."""

    async def done() -> int:
        return sum(a.outcome != "pending" for a in await attempts(db, campaign_id))

    async with asyncio.timeout(60):
        while await done() < count:  # noqa: ASYNC110 - polling the database
            await asyncio.sleep(0.2)


async def leads_by_id(db: async_sessionmaker[AsyncSession], campaign_id: int) -> dict[int, Lead]:
    async with db() as session:
        rows = await session.scalars(select(Lead).where(Lead.campaign_id == campaign_id))
        return {lead.id: lead for lead in rows}


__all__ = ["until"]
