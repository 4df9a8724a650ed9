"""The demo's fallback: the AMI link fed by a replay of traffic recorded from the real sandbox."""

from __future__ import annotations

import asyncio

from ami.link import AmiLink
from ami.replay import ReplayAmiServer, default_trace, load_trace
from callcenter.settings import Secret


def test_the_trace_is_a_real_recorded_queue_call() -> None:
    frames = [event.frame for event in load_trace(default_trace())]
    names = [frame.split("\r\n", 1)[0] for frame in frames]
    for expected in ("Newchannel", "QueueCallerJoin", "AgentCalled", "AgentConnect", "Hangup"):
        assert f"Event: {expected}" in names
    assert any("CallerIDNum: 84951234567" in frame for frame in frames)


async def test_link_logs_in_and_receives_the_recorded_events() -> None:
    async with ReplayAmiServer(default_trace(), pause_between_rounds=0.5) as replay:
        link = AmiLink(replay.host, replay.port, "callcenter", Secret("anything"))
        await link.start()
        try:
            await link.wait_connected(5)
            assert link.state == "connected"
            seen: list[str] = []
            caller_numbers: set[str] = set()

            async def until_agent_connect() -> None:
                async for message in link.events():
                    seen.append(message.get("Event"))
                    if message.get("Event") == "QueueCallerJoin":
                        caller_numbers.add(message.get("CallerIDNum"))
                    if message.get("Event") == "AgentConnect":
                        return

            await asyncio.wait_for(until_agent_connect(), 10)
            assert "84951234567" in caller_numbers
            assert seen.index("Newchannel") < seen.index("QueueCallerJoin")
            # a replay places no calls: actions other than login and ping are refused
            reply = await link.send({"Action": "QueueStatus"})
            assert reply.get("Response") == "Error"
        finally:
            await link.stop()
