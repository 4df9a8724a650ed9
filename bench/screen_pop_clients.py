"""The websocket side of the screen_pop benchmark, run as its own process.

Signs in each operator, opens ``--per-user`` websockets per operator, and records
the wall-clock time every ``call.ringing`` arrives. Prints one JSON object with
the arrivals when it receives SIGTERM or after ``--seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from typing import Any

import aiohttp


async def _listen(
    session: aiohttp.ClientSession, url: str, login: str, arrivals: list[Any], ready: list[int]
) -> None:
    async with session.ws_connect(url, heartbeat=30) as ws:
        ready.append(1)
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            received = time.time()
            data = json.loads(message.data)
            if data["type"] == "call.ringing":
                arrivals.append(
                    (login, data["data"]["caller_number"], data["data"]["linkedid"], received)
                )


async def main(args: argparse.Namespace) -> None:
    arrivals: list[Any] = []
    ready: list[int] = []
    sessions: list[aiohttp.ClientSession] = []
    tasks: list[asyncio.Task[None]] = []
    for login in args.logins.split(","):
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(session)
        response = await session.post(
            args.base + "/login", data={"login": login, "password": args.password}
        )
        response.raise_for_status()
        ws_url = args.base.replace("http://", "ws://") + "/ws"
        for _ in range(args.per_user):
            tasks.append(asyncio.create_task(_listen(session, ws_url, login, arrivals, ready)))
    while len(ready) < len(tasks):  # noqa: ASYNC110 - counting connections as they open
        await asyncio.sleep(0.05)
    print("READY", len(ready), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), args.seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for session in sessions:
        await session.close()
    json.dump({"connections": len(tasks), "arrivals": arrivals}, sys.stdout)
    sys.stdout.flush()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--logins", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--per-user", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=600)
    asyncio.run(main(parser.parse_args()))
