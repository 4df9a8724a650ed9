"""Writing the audit log: who read, exported or listened to personal data (152-FZ)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.models import AuditEntry, User


async def record(
    session: AsyncSession,
    actor: User | None,
    action: str,
    entity_type: str | None = None,
    entity_id: object = None,
    ip: str | None = None,
    **details: Any,
) -> None:
    """Add an entry to the caller's transaction: it is kept exactly when the work is.

    ``action`` is dotted lower-case (``contact.read``, ``contacts.export``,
    ``recording.play``); the table's CHECK refuses anything else.
    """
    session.add(
        AuditEntry(
            actor_id=actor.id if actor else None,
            action=action,
            entity_type=entity_type,
            entity_id=None if entity_id is None else str(entity_id),
            ip=ip or None,
            details=details,
        )
    )
