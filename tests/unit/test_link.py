"""AmiLink against a scriptable AMI server on loopback: reconnects, watchdog, resync.

The real Asterisk is in tests/integration/test_ami_link.py; this server lets the
tests cut, freeze and refuse at exact moments, with short timers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Self

import pytest
from panoramisk.message import Message

from ami.link import AmiLink, LinkState, LiveSnapshot
from callcenter.settings import Secret

EOL = "\r\n"
Headers = list[tuple[str, str]]


def encode(headers: Headers) -> bytes:
    return (EOL.join(f"{k}: {v}" for k, v in headers) + EOL + EOL).encode()


def channel(uniqueid: str, linkedid: str) -> Headers:
    return [
        ("Event", "CoreShowChannel"),
        ("Channel", f"PJSIP/trunk-{uniqueid}"),
        ("Uniqueid", uniqueid),
        ("Linkedid", linkedid),
        ("CallerIDName", "Иван"),
    ]


class FakeAmi:
    """Speaks enough AMI for AmiLink; records every action it receives."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.actions: list[dict[str, str]] = []
        self.wire = bytearray()  # every byte the clients wrote, as it came
        self.logins = 0
        self.refuse_login = False
        self.hold: set[str] = set()  # lower-case action names left unanswered
        self.refuse: dict[str, int] = {}  # lower-case action name -> times to refuse it
        self.channels: list[Headers] = []
        self.members: list[Headers] | None = None  # QueueMember rows; None: one of "support"
        self.inside_channel_list: list[Headers] = []  # events written before Complete
        self.after_channel_list: list[Headers] = []  # events written right after it
        self.frozen = False  # the current connections write nothing more
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        self.drop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def link(self, **options: object) -> AmiLink:
        defaults: dict[str, object] = {"reconnect_seconds": 0.05, "reconnect_max_seconds": 0.2}
        return AmiLink(self.host, self.port, "user", Secret("pw"), **(defaults | options))  # type: ignore[arg-type]

    def count(self, name: str) -> int:
        return sum(1 for a in self.actions if a.get("action", "").lower() == name.lower())

    def drop(self) -> None:
        """Reset every connection (like a restart of Asterisk or a cut cable)."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def push(self, headers: Headers) -> None:
        for writer in self._writers:
            writer.write(encode(headers))

    async def push_bytes(self, data: bytes) -> None:
        """Write ``data`` as it is (hostile or cut frames) to every connection."""
        for writer in list(self._writers):
            writer.write(data)
            await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.frozen = False

        def send(*frames: Headers) -> None:
            if not self.frozen and writer in self._writers:
                writer.write(b"".join(encode(f) for f in frames))

        try:
            writer.write(b"Asterisk Call Manager/9.0.0" + EOL.encode())
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                self.wire += raw
                block = raw.decode("utf-8", "replace")
                action = {}
                for line in block.split(EOL):
                    key, sep, value = line.partition(": ")
                    if sep:
                        action[key.lower()] = value
                self.actions.append(action)
                name = action.get("action", "").lower()
                aid = [("ActionID", action.get("actionid", ""))]
                if name in self.hold:
                    continue
                if self.refuse.get(name, 0) > 0:
                    self.refuse[name] -= 1
                    message = f"Invalid/unknown command: {action.get('action')}."
                    send([("Response", "Error"), *aid, ("Message", message)])
                    continue
                if name == "login":
                    self.logins += 1
                    if self.refuse_login:
                        send([("Response", "Error"), *aid, ("Message", "Authentication failed")])
                        continue
                    send(
                        [("Response", "Success"), *aid, ("Message", "Authentication accepted")],
                        [("Event", "FullyBooted"), ("Status", "Fully Booted")],
                    )
                elif name == "ping":
                    send([("Response", "Success"), *aid, ("Ping", "Pong")])
                elif name == "queuestatus":
                    send(
                        [("Response", "Success"), *aid, ("EventList", "start")],
                        [("Event", "QueueParams"), *aid, ("Queue", "support")],
                        *(
                            [[("Event", "QueueMember"), *aid, *m] for m in self.members]
                            if self.members is not None
                            else [
                                [
                                    ("Event", "QueueMember"),
                                    *aid,
                                    ("Queue", "support"),
                                    ("Paused", "0"),
                                ]
                            ]
                        ),
                        [("Event", "QueueEntry"), *aid, ("Queue", "support"), ("Position", "1")],
                        [("Event", "QueueStatusComplete"), *aid, ("EventList", "Complete")],
                    )
                elif name == "coreshowchannels":
                    send(
                        [("Response", "Success"), *aid, ("EventList", "start")],
                        *([*c, *aid] for c in self.channels),
                        *self.inside_channel_list,
                        [("Event", "CoreShowChannelsComplete"), *aid, ("EventList", "Complete")],
                        *self.after_channel_list,
                    )
                else:
                    send([("Response", "Success"), *aid, ("Message", f"{name} done")])
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            self._tasks.discard(task)


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


class Consumer:
    """The one task reading ``events()``; records events and resyncs in order."""

    def __init__(self, link: AmiLink) -> None:
        self.link = link
        self.log: list[str] = []
        self.snapshots: list[LiveSnapshot] = []
        link.on_resync = self._resynced
        self.task = asyncio.create_task(self._run())

    async def _resynced(self, snapshot: LiveSnapshot) -> None:
        self.snapshots.append(snapshot)
        self.log.append("resync")

    async def _run(self) -> None:
        async for message in self.link.events():
            self.log.append(str(message.get("Event")))

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_connects_logs_in_and_hands_over_the_live_state() -> None:
    async with FakeAmi() as ami:
        ami.channels = [channel("1.1", "1.1"), channel("1.2", "1.1"), channel("2.1", "2.1")]
        states: list[LinkState] = []
        link = ami.link(on_state_change=states.append)
        consumer = Consumer(link)
        await link.start()
        try:
            await link.wait_connected(5)
            await eventually(lambda: bool(consumer.snapshots))
        finally:
            await link.stop()
            await consumer.close()
    [snapshot] = consumer.snapshots
    assert snapshot.linkedids() == {"1.1", "2.1"}
    assert snapshot.channels[0]["CallerIDName"] == "Иван"
    assert [q["Queue"] for q in snapshot.queues] == ["support"]
    assert len(snapshot.members) == len(snapshot.entries) == 1
    assert states == ["connected", "stopped"]  # it starts as "connecting"
    assert link.asterisk_version == "9.0.0"
    assert link.last_snapshot is snapshot and link.resyncs == 1
    assert ami.actions[0]["secret"] == "pw" and ami.actions[0]["events"] == "on"


async def test_the_resync_sits_where_the_channel_list_ended() -> None:
    async with FakeAmi() as ami:
        ami.inside_channel_list = [[("Event", "Hangup"), ("Linkedid", "9.9")]]
        ami.after_channel_list = [[("Event", "Newchannel"), ("Linkedid", "7.7")]]
        link = ami.link()
        consumer = Consumer(link)
        await link.start()
        try:
            await eventually(lambda: "Newchannel" in consumer.log)
        finally:
            await link.stop()
            await consumer.close()
    log = [e for e in consumer.log if e in {"Hangup", "resync", "Newchannel"}]
    assert log == ["Hangup", "resync", "Newchannel"]


async def test_a_resync_refused_while_asterisk_boots_is_asked_again() -> None:
    # after a restart Asterisk takes logins before app_queue is loaded
    async with FakeAmi() as ami:
        ami.refuse = {"queuestatus": 2}
        ami.channels = [channel("1.1", "1.1")]
        link = ami.link()
        consumer = Consumer(link)
        await link.start()
        try:
            await eventually(lambda: len(consumer.snapshots) == 1)
            await asyncio.sleep(0.3)
        finally:
            await link.stop()
            await consumer.close()
    assert ami.count("queuestatus") == 3 and ami.count("coreshowchannels") == 3
    assert len(consumer.snapshots) == 1 and consumer.snapshots[0].linkedids() == {"1.1"}
    assert link.connections == 1


async def test_a_resync_left_unanswered_on_a_live_link_is_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the lists unanswered while Pings are: the link stays, so the resync must retry
    monkeypatch.setattr("ami.link.RESYNC_FIRST_WAIT_SECONDS", 0.3)
    async with FakeAmi() as ami:
        ami.hold = {"coreshowchannels"}
        ami.channels = [channel("1.1", "1.1")]
        link = ami.link()
        consumer = Consumer(link)
        await link.start()
        try:
            await eventually(lambda: ami.count("coreshowchannels") == 1)
            ami.hold = set()
            await eventually(lambda: len(consumer.snapshots) == 1)
        finally:
            await link.stop()
            await consumer.close()
    assert ami.count("coreshowchannels") == 2 and link.connections == 1
    assert consumer.snapshots[0].linkedids() == {"1.1"}


async def test_reconnects_after_a_reset_and_resyncs_again() -> None:
    async with FakeAmi() as ami:
        states: list[LinkState] = []
        link = ami.link(on_state_change=states.append)
        consumer = Consumer(link)
        await link.start()
        try:
            await eventually(lambda: len(consumer.snapshots) == 1)
            ami.drop()
            await eventually(lambda: len(consumer.snapshots) == 2)
            assert link.connected and link.connections == 2
            assert ami.logins == 2
        finally:
            await link.stop()
            await consumer.close()
    assert states[:3] == ["connected", "disconnected", "connecting"]
    assert states[-2:] == ["connected", "stopped"]


async def test_a_frozen_link_is_noticed_by_the_ping_watchdog() -> None:
    async with FakeAmi() as ami:
        link = ami.link(ping_interval=0.1, ping_timeout=0.2)
        await link.start()
        try:
            await link.wait_connected(5)
            await eventually(lambda: ami.count("ping") >= 2)  # pings are answered
            assert link.watchdog_trips == 0
            loop = asyncio.get_running_loop()
            frozen_at = loop.time()
            ami.frozen = True  # TCP stays open, not one more byte comes
            await eventually(lambda: link.watchdog_trips == 1, timeout=2)
            noticed = loop.time() - frozen_at
            await link.wait_connected(5)
            assert link.connections == 2
            assert "Ping" in str(link.last_error)
        finally:
            await link.stop()
    assert noticed <= 0.1 + 0.2 + 0.5  # interval + timeout + slack


async def test_an_originate_in_flight_fails_and_is_never_sent_again() -> None:
    async with FakeAmi() as ami:
        ami.hold = {"originate"}
        link = ami.link()
        consumer = Consumer(link)
        await link.start()
        try:
            await link.wait_connected(5)
            originate = asyncio.create_task(
                link.send({"Action": "Originate", "Channel": "PJSIP/op101", "Exten": "100"})
            )
            await eventually(lambda: ami.count("originate") == 1)
            ami.drop()
            with pytest.raises(ConnectionError, match="Originate"):
                await originate
            # after the next login and FullyBooted panoramisk would have re-sent it
            await eventually(lambda: len(consumer.snapshots) == 2)
            await asyncio.sleep(0.2)
            assert consumer.log.count("FullyBooted") == 2
        finally:
            await link.stop()
            await consumer.close()
    assert ami.count("originate") == 1


async def test_a_refused_login_is_retried_with_backoff() -> None:
    async with FakeAmi() as ami:
        ami.refuse_login = True
        link = ami.link()
        await link.start()
        try:
            await eventually(lambda: ami.logins >= 3)
            assert link.state in {"disconnected", "connecting"}
            assert "Authentication failed" in str(link.last_error)
            ami.refuse_login = False
            await link.wait_connected(5)
        finally:
            await link.stop()


async def test_nothing_listening_keeps_it_trying_until_stopped() -> None:
    async with FakeAmi() as ami:
        port = ami.port
    link = AmiLink("127.0.0.1", port, "u", Secret("p"), reconnect_seconds=0.01)
    states: list[LinkState] = []
    link.on_state_change = states.append
    await link.start()
    await eventually(lambda: states.count("connecting") >= 3)
    with pytest.raises(ConnectionError):
        await link.send({"Action": "Ping"})
    await link.stop()
    assert link.state == "stopped"
    assert "Connect" in str(link.last_error) or "refused" in str(link.last_error).lower()


async def test_stop_ends_every_task_and_reconnects_no_more() -> None:
    async with FakeAmi() as ami:
        link = ami.link()
        await link.start()
        await link.wait_connected(5)
        before = {t.get_name() for t in asyncio.all_tasks()}
        assert {"ami-link", "ami-watchdog"} <= before
        await link.stop()
        await asyncio.sleep(0.3)
        assert ami.logins == 1
        assert not {t.get_name() for t in asyncio.all_tasks()} & {"ami-link", "ami-watchdog"}
        assert link.state == "stopped"


def test_backoff_grows_to_a_cap_with_jitter() -> None:
    link = AmiLink("127.0.0.1", 1, "u", Secret("p"), reconnect_seconds=0.5)
    for failures in range(30):
        ceiling = min(5.0, 0.5 * 2**failures)
        delays = {link._backoff(failures) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def test_credentials_with_line_breaks_are_refused_up_front() -> None:
    with pytest.raises(ValueError, match="Secret"):
        AmiLink("127.0.0.1", 1, "u", Secret("p\r\nAction: Originate"))


async def test_a_failing_resync_hook_does_not_stop_the_stream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with FakeAmi() as ami:
        link = ami.link()

        async def broken(snapshot: LiveSnapshot) -> None:
            raise RuntimeError("tracker bug")

        link.on_resync = broken
        seen: list[str] = []

        async def consume() -> None:
            async for message in link.events():
                seen.append(str(message.get("Event")))

        consumer = asyncio.create_task(consume())
        await link.start()
        try:
            await link.wait_connected(5)
            await eventually(lambda: link.resyncs == 1)
            ami.push([("Event", "Newchannel")])
            await eventually(lambda: "Newchannel" in seen)
        finally:
            await link.stop()
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
    assert "on_resync failed" in caplog.text


async def test_a_full_queue_drops_events_but_keeps_the_resync() -> None:
    async with FakeAmi() as ami:
        ami.inside_channel_list = [[("Event", f"E{i}")] for i in range(5)]
        link = ami.link(queue_size=3)
        seen: list[str] = []

        async def record(snapshot: LiveSnapshot) -> None:
            seen.append("resync")

        link.on_resync = record
        await link.start()
        try:
            await link.wait_connected(5)
            await eventually(lambda: link.dropped_events >= 3)
            stream = link.events()
            for _ in range(3):
                seen.append(str((await asyncio.wait_for(anext(stream), 5)).get("Event")))
            ami.push([("Event", "Late")])
            seen.append(str((await asyncio.wait_for(anext(stream), 5)).get("Event")))
        finally:
            await link.stop()
    # FullyBooted, E0, E1 filled the queue; E2-E4 were dropped; the resync was kept
    assert seen == ["FullyBooted", "E0", "E1", "resync", "Late"]


async def test_a_shutdown_event_makes_it_reconnect() -> None:
    async with FakeAmi() as ami:
        link = ami.link()
        await link.start()
        try:
            await link.wait_connected(5)
            ami.push([("Event", "Shutdown"), ("Shutdown", "Cleanly"), ("Restart", "True")])
            await eventually(lambda: link.connections == 2)
        finally:
            await link.stop()


async def test_garbage_from_the_server_costs_neither_the_link_nor_events(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    async with FakeAmi() as ami:
        link = ami.link()
        await link.start()
        try:
            await link.wait_connected(5)
            for writer in ami._writers:
                writer.write(b"\xff\xfe garbage without colon\r\n\r\n")
            ami.push([("Event", "Newchannel"), ("Channel", "PJSIP/op101-1")])
            message: Message = await asyncio.wait_for(_first(link, "Newchannel"), 5)
            assert message["Channel"] == "PJSIP/op101-1"
            assert link.connections == 1
        finally:
            await link.stop()


async def _first(link: AmiLink, event: str) -> Message:
    async for message in link.events():
        if message.get("Event") == event:
            return message
    raise AssertionError("stream ended")
