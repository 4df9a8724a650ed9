"""A running campaign across an Asterisk restart: nothing redialled, nothing lost, it goes on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox import SandboxStatus, sandbox_down, sandbox_up
from ami.sandbox.sipp import Phone
from tests.integration.dialer_engine_helpers import (
    ANSWERS,
    attempts,
    leads_by_id,
    make_campaign,
    originates,
    running_dialer,
    settled,
    until,
)
from tests.integration.test_ami_link import AmiProxy

pytestmark = [pytest.mark.asterisk, pytest.mark.db]


async def test_a_campaign_survives_an_asterisk_restart(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    customers: Callable[..., Phone],
) -> None:
    numbers = [f"{ANSWERS}{n:04d}" for n in range(101, 107)]
    floor = await make_campaign(db, numbers, extensions=("106", "107"), max_attempts=3)
    operator_phone("106", ring_ms=100)
    operator_phone("107", ring_ms=100)
    customers(ring_ms=4000, talk_ms=500)

    async with AmiProxy(asterisk_sandbox.ami_port) as proxy, running_dialer(db, proxy) as dialer:
        await until(lambda: len(originates(bytes(proxy.sent))) >= 2, 20, "two Originates")
        before = {o["ActionID"] for o in originates(bytes(proxy.sent))}
        sandbox_down()  # the calls ringing now die with it
        sandbox_up(timeout=60)
        # the operators' phones re-register on their own; the queue members are re-added
        await until(lambda: dialer.link.connections >= 2, 30, "the reconnect")
        await settled(db, floor.campaign_id, len(numbers))
        wire = originates(bytes(proxy.sent))

    rows = await attempts(db, floor.campaign_id)
    # every attempt was sent exactly once. Those ringing at the restart were hung up by
    # Asterisk as it stopped: failed when the link heard it, unknown when it did not;
    # neither is dialled again at once. Every other lead was dialled after the restart
    # and answered.
    assert Counter(o["ActionID"] for o in wire) == Counter(a.action_id for a in rows)
    assert len(rows) == len(numbers)
    assert sorted(a.lead_id for a in rows) == sorted(floor.leads.values())
    assert {a.outcome for a in rows if a.action_id in before} <= {"failed", "unknown"}
    assert {a.outcome for a in rows if a.action_id not in before} == {"answered"}
    leads = await leads_by_id(db, floor.campaign_id)
    assert not [lead for lead in leads.values() if lead.locked_by is not None]
