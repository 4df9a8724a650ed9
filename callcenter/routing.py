"""Personal-manager routing: which phone a known caller rings before the queue.

Asterisk asks (through ``ami.agi``) while the caller waits, so the answer must
be quick and may be "nobody": an unknown or anonymous caller, a client without a
personal manager, or a manager who left or has no phone all go to the queue.
The caller of ``personal_manager_device`` bounds it with a deadline; past it the
call goes to the queue too.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.models import Contact, ContactPhone, User
from callcenter.phones import to_e164

# contacts merged into another are followed at most this far (a merge chain is short)
MAX_MERGE_HOPS = 3


async def personal_manager_device(
    session: AsyncSession, caller_number: str, region: str
) -> str | None:
    """The device (``PJSIP/op102``) of the active personal manager of the caller, or None.

    ``caller_number`` is the caller-ID as Asterisk has it, in any format
    ``to_e164`` understands; a merged duplicate contact forwards to the contact
    it was merged into, whose manager counts.
    """
    e164 = to_e164(caller_number, region) if caller_number else None
    if e164 is None:
        return None
    row = (
        await session.execute(
            select(Contact.manager_id, Contact.merged_into_id)
            .join(ContactPhone, ContactPhone.contact_id == Contact.id)
            .where(ContactPhone.e164 == e164)
        )
    ).one_or_none()
    for _ in range(MAX_MERGE_HOPS):
        if row is None or row.merged_into_id is None:
            break
        row = (
            await session.execute(
                select(Contact.manager_id, Contact.merged_into_id).where(
                    Contact.id == row.merged_into_id
                )
            )
        ).one_or_none()
    if row is None or row.merged_into_id is not None or row.manager_id is None:
        return None  # unknown, no manager, or a merge chain too long to trust
    device: str | None = (
        await session.execute(
            select(User.interface).where(User.id == row.manager_id, User.is_active.is_(True))
        )
    ).scalar_one_or_none()
    return device or None
