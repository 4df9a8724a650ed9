"""Playing a call's recording: ``GET /calls/{id}/recording``, with Range so players can seek."""

from __future__ import annotations

from aiohttp import web

from callcenter import audit
from callcenter.models import Call
from callcenter.recordings import may_play, recording_file, recordings_dir
from web.auth import requires
from web.client_access import client_ip
from web.json_api import int_param, me
from web.state import SERVICES


def _starts_playback(request: web.Request) -> bool:
    # a player asks for many ranges while it plays and seeks; one audit entry per
    # listening (the request from the first byte) is what the log is for
    range_header = request.headers.get("Range", "").replace(" ", "")
    return not range_header or range_header.startswith("bytes=0-")


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
        path = recording_file(recordings_dir(services.settings.data_dir), call.recording_path)
        if path is None:
            raise web.HTTPForbidden(text="the recording lies outside the recordings folder")
        if not path.is_file():
            raise web.HTTPNotFound(text="the recording file is missing")
        if _starts_playback(request):
            await audit.record(session, user, "recording.play", "call", call.id, client_ip(request))
            await session.commit()
    return web.FileResponse(path, headers={"Cache-Control": "private, no-store"})


def add_routes(app: web.Application) -> None:
    app.router.add_get(r"/calls/{id:\d+}/recording", play_recording)
