"""An operator's own recent calls."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.lookup import contact_name
from callcenter.models import Call, Contact, Disposition

RECENT_CALLS = 20


async def recent_calls(
    session: AsyncSession, user_id: int, limit: int = RECENT_CALLS
) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Call, Contact, Disposition.code)
        .outerjoin(Contact, Contact.id == Call.contact_id)
        .outerjoin(Disposition, Disposition.id == Call.disposition_id)
        .where(Call.answered_by_id == user_id)
        .order_by(Call.started_at.desc())
        .limit(limit)
    )
    calls = []
    for call, contact, disposition in rows:
        calls.append(
            {
                "linkedid": call.linkedid,
                "direction": call.direction,
                "caller_number": call.caller_number,
                "caller_e164": call.caller_e164,
                "caller_name": call.caller_name,
                "contact": None
                if contact is None
                else {"id": contact.id, "name": contact_name(contact)},
                "started_at": call.started_at.isoformat(),
                "result": call.result,
                "talk_seconds": call.talk_seconds,
                "disposition": disposition,
            }
        )
    return calls
