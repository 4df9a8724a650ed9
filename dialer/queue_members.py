"""Who answers a campaign's calls: the members of the PBX's dialer queue.

Every operator assigned to a campaign that is running in an automatic mode (or
still has calls in flight) is a member of the queue ``dialer`` with the campaign's
id as penalty; the dial plan asks for exactly that penalty, so a call reaches only
its own campaign's operators. An operator assigned to several such campaigns works
the oldest one (the lowest id). Ready or paused is the operator's own choice, made
on the console for every queue at once: a new member starts paused when the
operator is paused in every other queue they are in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.models import CampaignOperator, User
from callcenter.telephony import DialerTelephony, QueueReport, TelephonyError
from dialer.floor import DIALER_QUEUE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CampaignOperatorPhone:
    campaign_id: int
    user_id: int
    device: str  # PJSIP/op101


async def operator_phones(
    session: AsyncSession, campaign_ids: Iterable[int]
) -> list[CampaignOperatorPhone]:
    """Active operators with a phone, of these campaigns, oldest campaign first."""
    ids = sorted(set(campaign_ids))
    if not ids:
        return []
    rows = await session.execute(
        select(CampaignOperator.campaign_id, User.id, User.interface)
        .join(User, User.id == CampaignOperator.user_id)
        .where(
            CampaignOperator.campaign_id.in_(ids),
            User.is_active.is_(True),
            User.interface.is_not(None),
        )
        .order_by(CampaignOperator.campaign_id, User.id)
    )
    return [CampaignOperatorPhone(c, u, d) for c, u, d in rows if d and "/" in d]


def wanted_members(phones: Iterable[CampaignOperatorPhone]) -> dict[str, CampaignOperatorPhone]:
    """Device (lower case) -> the campaign it works; the lowest campaign id wins."""
    wanted: dict[str, CampaignOperatorPhone] = {}
    for phone in sorted(phones, key=lambda p: (p.campaign_id, p.user_id)):
        wanted.setdefault(phone.device.lower(), phone)
    return wanted


def paused_elsewhere(report: QueueReport, device: str) -> bool:
    others = [
        m for m in report.members if m.queue != DIALER_QUEUE and m.device.lower() == device.lower()
    ]
    return bool(others) and all(m.paused for m in others)


async def sync_members(
    telephony: DialerTelephony, report: QueueReport, wanted: dict[str, CampaignOperatorPhone]
) -> bool:
    """Make the dialer queue's members what ``wanted`` says; True when something changed."""
    current = {m.device.lower(): m for m in report.members if m.queue == DIALER_QUEUE}
    changed = False
    for device, phone in wanted.items():
        endpoint = phone.device.split("/", 1)[1]
        member = current.get(device)
        try:
            if member is None:
                await telephony.queue_add(
                    DIALER_QUEUE,
                    endpoint,
                    penalty=phone.campaign_id,
                    paused=paused_elsewhere(report, device),
                    member_name=endpoint,
                )
            elif member.penalty != phone.campaign_id:
                await telephony.queue_penalty(DIALER_QUEUE, endpoint, phone.campaign_id)
            else:
                continue
        except (TelephonyError, ValueError, ConnectionError) as exc:
            log.warning("dialer queue: cannot set up %s: %s", phone.device, exc)
            continue
        changed = True
    for device, member in current.items():
        if device in wanted:
            continue
        try:
            await telephony.queue_remove(DIALER_QUEUE, member.device.split("/", 1)[-1])
        except (TelephonyError, ValueError, ConnectionError) as exc:
            log.warning("dialer queue: cannot remove %s: %s", member.device, exc)
            continue
        changed = True
    return changed
