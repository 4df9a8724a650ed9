"""A listener that starts while calls are up takes them over from the link's resync.

Recorded frames go into the replay PBX before anyone listens; the real AmiLink logs in,
reads CoreShowChannels, and ``translate_channels`` + ``CallTracker.adopt`` rebuild
the calls: the phones that ring get their pops, a talk is a talk.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from ami.link import AmiLink, LiveSnapshot
from ami.replay_pbx import ReplayPbx
from ami.translate import translate, translate_channels
from callcenter.device_calls import DeviceCalls
from callcenter.settings import Secret
from callcenter.tracker import CallTracker
from callcenter.tracking import CallObservers
from tests.replay_calls import ANSWERED_AFTER, HUNG_UP_AFTER, LINKEDIDS, call_frames
from tests.unit.test_tracker import Recorder

OP101, OP102 = "PJSIP/op101", "PJSIP/op102"


async def resync_of(pbx: ReplayPbx) -> LiveSnapshot:
    """What a link that logs in now reads from the PBX."""
    got: asyncio.Future[LiveSnapshot] = asyncio.get_running_loop().create_future()

    async def keep(snapshot: LiveSnapshot) -> None:
        if not got.done():
            got.set_result(snapshot)

    async def consume() -> None:
        async for _ in link.events():
            pass

    link = AmiLink(pbx.host, pbx.port, "callcenter", Secret("anything"), on_resync=keep)
    await link.start()
    consumer = asyncio.create_task(consume())
    try:
        return await asyncio.wait_for(got, 5)
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await link.stop()


def adopted(snapshot: LiveSnapshot) -> tuple[Recorder, DeviceCalls, CallTracker, set[str]]:
    recorder, phones = Recorder(), DeviceCalls()
    tracker = CallTracker(CallObservers([recorder, phones]))
    taken = tracker.adopt(translate_channels(snapshot.channels, snapshot.taken_at))
    return recorder, phones, tracker, taken


async def test_calls_ringing_and_talking_before_the_listener_started_are_taken_over() -> None:
    async with ReplayPbx() as pbx:
        await pbx.play(call_frames(0, until=ANSWERED_AFTER - 0.5))  # rings both phones
        await pbx.play(call_frames(1, until=HUNG_UP_AFTER - 0.5, without=OP102))  # op101 talks
        await asyncio.sleep(1.1)  # so the first call's channels are a second old
        snapshot = await resync_of(pbx)
    recorder, phones, tracker, taken = adopted(snapshot)

    ringing, talking = LINKEDIDS[0], LINKEDIDS[1]
    assert taken == {ringing, talking}
    assert [entry for entry in recorder.log if entry[1] == ringing] == [
        ("started", ringing, ""),
        ("ringing", ringing, OP102),
        ("ringing", ringing, OP101),
    ]
    assert [entry for entry in recorder.log if entry[1] == talking] == [
        ("started", talking, ""),
        ("answered", talking, OP101),
    ]
    calls = {call.linkedid: call for call in tracker.live_calls()}
    assert calls[ringing].caller_number == "84951234567"
    assert calls[ringing].caller_name == "Ivan Petrov"
    assert (calls[ringing].queue, calls[ringing].did) == ("support", "74951112233")
    assert calls[ringing].direction == "inbound"
    assert (datetime.now(UTC) - calls[ringing].started_at).total_seconds() >= 1  # its age
    assert calls[talking].answered_device == OP101 and calls[talking].ringing_devices == ()
    assert [(held.call.linkedid, held.state) for held in phones.on(OP101)] == [
        (ringing, "ringing"),
        (talking, "talking"),
    ]
    assert [(held.call.linkedid, held.state) for held in phones.on("pjsip/OP102")] == [
        (ringing, "ringing")
    ]


async def test_a_call_the_tracker_follows_already_is_not_taken_over_again() -> None:
    frames = call_frames(0, until=ANSWERED_AFTER - 0.5)
    async with ReplayPbx() as pbx:
        await pbx.play(frames)
        snapshot = await resync_of(pbx)
    recorder = Recorder()
    tracker = CallTracker(recorder)
    for frame in frames:
        headers = dict(line.split(": ", 1) for line in frame.split("\r\n") if ": " in line)
        event = translate(headers, datetime.now(UTC))
        if event is not None:
            tracker.handle(event)
    seen = list(recorder.log)
    assert tracker.adopt(translate_channels(snapshot.channels, snapshot.taken_at)) == set()
    assert recorder.log == seen  # not started, nor rung, a second time


def test_garbled_rows_are_skipped_and_the_rest_read() -> None:
    now = datetime.now(UTC)
    rows = [
        {"Event": "CoreShowChannel", "Channel": "PJSIP/trunk-0001"},  # no ids
        {"Event": "CoreShowChannel", "Channel": "", "Uniqueid": "9.1", "Linkedid": "9.1"},
        {
            "Event": "CoreShowChannel",
            "Channel": "PJSIP/trunk-0002",
            "Uniqueid": "9.2",
            "Linkedid": "9.2",
            "ChannelState": "4",
            "CallerIDNum": "84951234567",
            "Duration": "garbage",
        },
    ]
    events = translate_channels(rows, now)
    assert [(type(e).__name__, e.linkedid, e.at) for e in events] == [
        ("ChannelCreated", "9.2", now)
    ]
    (aged,) = translate_channels([{**rows[2], "Duration": "01:02:03"}], now)
    assert aged.at == now - timedelta(seconds=3723)
