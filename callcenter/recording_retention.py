"""Deleting call recordings past the center's retention (``recording_retention_days``).

152-FZ asks that personal data is not kept longer than needed; a recording is personal
data. Once a day (and at start) every recording of a call that started before the
cut-off is deleted and its call row forgets the file; the call itself stays in the
log. Files are only ever deleted inside the recordings folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import audit, center_settings
from callcenter.models import Call
from callcenter.recordings import recording_file

log = logging.getLogger(__name__)

SWEEP_SECONDS = 24 * 3600.0
BATCH = 500


async def sweep(
    db: async_sessionmaker[AsyncSession], folder: Path, now: datetime | None = None
) -> int:
    """Delete the recordings past retention; how many calls lost theirs."""
    now = now or datetime.now(UTC)
    async with db() as session:
        days = (await center_settings.load(session)).recording_retention_days
    if days <= 0:
        return 0
    cutoff = now - timedelta(days=days)
    deleted = 0
    while True:
        async with db() as session, session.begin():
            rows = list(
                await session.execute(
                    select(Call.id, Call.recording_path)
                    .where(Call.recording_path.is_not(None), Call.started_at < cutoff)
                    .order_by(Call.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            if not rows:
                break
            for _, path in rows:
                found = recording_file(folder, path or "")
                if found is not None:
                    with contextlib.suppress(FileNotFoundError):
                        found.unlink()
            ids = [call_id for call_id, _ in rows]
            await session.execute(update(Call).where(Call.id.in_(ids)).values(recording_path=None))
            deleted += len(ids)
    if deleted:
        async with db() as session:
            await audit.record(
                session, None, "recordings.retention", None, None, deleted=deleted, days=days
            )
            await session.commit()
        log.info("deleted %d call recordings older than %d days", deleted, days)
    return deleted


async def run(db: async_sessionmaker[AsyncSession], folder: Path) -> None:
    """Until cancelled: a sweep at start, then once a day."""
    while True:
        try:
            await sweep(db, folder)
        except Exception:
            log.exception("recording retention sweep failed; trying again tomorrow")
        await asyncio.sleep(SWEEP_SECONDS)
