"""Playing a call's recording: ``GET /calls/{id}/recording``, with Range so players can seek."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit
from callcenter.models import AuditEntry, Call, User
from callcenter.recordings import may_play, recording_file
from web.auth import requires
from web.client_access import client_ip
from web.json_api import int_param, me
from web.state import SERVICES

# a player asks for many ranges while it plays and seeks: one audit entry per listener
# and call within this span. Every byte served falls inside an audited span, whatever
# Range a client sends.
LISTENING_SPAN = timedelta(minutes=10)


async def _audited_lately(session: AsyncSession, user: User, call_id: int) -> bool:
    since = datetime.now(UTC) - LISTENING_SPAN
    return bool(
        await session.scalar(
            select(
                exists().where(
                    AuditEntry.actor_id == user.id,
                    AuditEntry.action == "recording.play",
                    AuditEntry.entity_type == "call",
                    AuditEntry.entity_id == str(call_id),
                    AuditEntry.occurred_at >= since,
                )
            )
        )
    )


@requires()
async def play_recording(request: web.Request) -> web.StreamResponse:
    """The recording of a call: for leaders, and for the operator who answered it."""
    services = request.app[SERVICES]
    user = me(request)
    async with services.db() as session:
        call = await session.get(Call, int_param(request, "id"))
        if call is None or not call.recording_path:
            raise web.HTTPNotFound(text="this call has no recording")
        if not may_play(user, call):
            raise web.HTTPForbidden(text="only supervisors and the operator who took the call")
        path = recording_file(services.settings.recordings_folder, call.recording_path)
        if path is None:
            raise web.HTTPForbidden(text="the recording lies outside the recordings folder")
        if not path.is_file():
            raise web.HTTPNotFound(text="the recording file is missing")
        if not await _audited_lately(session, user, call.id):
            await audit.record(session, user, "recording.play", "call", call.id, client_ip(request))
            await session.commit()
    return web.FileResponse(path, headers={"Cache-Control": "private, no-store"})


def add_routes(app: web.Application) -> None:
    app.router.add_get(r"/calls/{id:\d+}/recording", play_recording)
