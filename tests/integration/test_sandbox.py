"""The sandbox Asterisk with the reference configuration, seen through AMI.

Every test filters events by its own call (its caller number, then the call's
Linkedid): the sandbox is shared by the whole session.
"""

from __future__ import annotations

import asyncio
import configparser
import csv
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from panoramisk.message import Message

from ami.link import AmiLink
from ami.sandbox import CONF_DIR, SandboxStatus
from ami.sandbox.sipp import Caller, CallSpec, Phone
from callcenter.settings import Secret

pytestmark = pytest.mark.asterisk

USER = "callcenter"
SECRET = "callcenter-sandbox"


# ------------------------------------------------------------------ raw AMI


class RawAmi:
    """A bare AMI client on a socket: the permissions test must not trust our own code."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""
        self.greeting = self._read_until(b"\r\n").decode()
        self.next_id = 0

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("AMI closed the connection")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _message(self) -> dict[str, str]:
        block = self._read_until(b"\r\n\r\n").decode()
        fields: dict[str, str] = {}
        for line in block.split("\r\n"):
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
        return fields

    def action(self, name: str, **fields: str) -> list[dict[str, str]]:
        """Send one action; return its response plus the events of a list response."""
        self.next_id += 1
        action_id = f"t{self.next_id}"
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        lines += [f"{key}: {value}" for key, value in fields.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        replies: list[dict[str, str]] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            message = self._message()
            if message.get("ActionID") != action_id:
                continue  # an unrelated event
            replies.append(message)
            is_list = replies[0].get("EventList") == "start"
            if not is_list or message.get("EventList") == "Complete":
                return replies
        raise TimeoutError(f"no complete reply to {name}")

    def close(self) -> None:
        self.sock.close()


def test_ami_user_has_least_privilege(asterisk_sandbox: SandboxStatus) -> None:
    ami = RawAmi(asterisk_sandbox.ami_port)
    try:
        assert ami.greeting.startswith("Asterisk Call Manager/")
        [login] = ami.action("Login", Username=USER, Secret=SECRET, Events="off")
        assert login["Response"] == "Success", login

        [pong] = ami.action("Ping")
        assert pong["Response"] == "Success"

        channels = ami.action("CoreShowChannels")
        assert channels[0]["Response"] == "Success", channels[0]
        assert channels[-1]["Event"] == "CoreShowChannelsComplete"

        queues = ami.action("QueueStatus")
        assert queues[0]["Response"] == "Success", queues[0]
        names = {m.get("Queue") for m in queues if m.get("Event") == "QueueParams"}
        assert {"support", "sales"} <= names

        # the "command", "system" and "config" classes are not granted
        [command] = ami.action("Command", Command="core show version")
        assert command["Response"] == "Error"
        assert "Permission denied" in command["Message"]
        [config] = ami.action("GetConfig", Filename="manager.conf")
        assert config["Response"] == "Error"
        # Originate is allowed, but not into applications that need "system"
        [shell] = ami.action(
            "Originate", Channel="Local/1@nowhere", Application="System", Data="true"
        )
        assert shell["Response"] == "Error", shell
    finally:
        ami.close()


def test_reference_manager_conf_grants_no_dangerous_class() -> None:
    parser = configparser.ConfigParser(
        strict=False, inline_comment_prefixes=(";",), comment_prefixes=(";",)
    )
    parser.read(CONF_DIR / "manager.conf")
    user = parser[USER]
    for key in ("read", "write"):
        classes = {c.strip() for c in user[key].split(",")}
        assert not classes & {"system", "command", "config", "all"}, (key, classes)
    assert parser["general"]["bindaddr"] == "127.0.0.1"


# --------------------------------------------------------------- AMI events


async def _link() -> AmiLink:
    link = AmiLink("127.0.0.1", 5038, USER, Secret(SECRET))
    await link.start()
    try:
        await link.wait_connected(10)
    except BaseException:
        await link.stop()
        raise
    return link


async def call_events(
    link: AmiLink,
    first: Callable[[Message], bool],
    done: Callable[[list[Message]], bool],
    timeout: float,
) -> list[Message]:
    """Events of one call: from the first event matching ``first``, all sharing its
    Linkedid, until ``done(events)``; ``TimeoutError`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    stream: AsyncIterator[Message] = link.events()
    found: list[Message] = []
    linkedid: str | None = None
    try:
        while True:
            message = await asyncio.wait_for(anext(stream), max(deadline - loop.time(), 0))
            if linkedid is None:
                if not first(message):
                    continue
                linkedid = message.get("Linkedid")
            elif message.get("Linkedid") != linkedid:
                continue
            found.append(message)
            if done(found):
                return found
    except TimeoutError:
        seen = [(m.get("Event"), m.get("Channel")) for m in found]
        raise TimeoutError(f"call incomplete after {timeout} s; saw {seen}") from None
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


def caller_hung_up(found: list[Message]) -> bool:
    """The caller's own channel (its Uniqueid is the Linkedid) hangs up last."""
    return any(m.get("Event") == "Hangup" and m.get("Uniqueid") == m.get("Linkedid") for m in found)


def names(events: list[Message]) -> list[str]:
    return [str(m.get("Event")) for m in events]


def index_of(events: list[Message], name: str, **fields: str) -> int:
    for i, message in enumerate(events):
        if message.get("Event") == name and all(message.get(k) == v for k, v in fields.items()):
            return i
    raise AssertionError(f"no {name} {fields} among {names(events)}")


def cdr_rows(path: Path, linkedid: str) -> list[dict[str, str]]:
    # cdr_csv with newcdrcolumns: ... uniqueid, userfield, peeraccount, linkedid, sequence
    columns = [
        "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel",
        "lastapp", "lastdata", "start", "answer", "end", "duration", "billsec",
        "disposition", "amaflags", "uniqueid", "userfield", "peeraccount", "linkedid",
        "sequence",
    ]  # fmt: skip
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as f:
            rows = [dict(zip(columns, row, strict=False)) for row in csv.reader(f)]
    except FileNotFoundError:
        return []
    return [row for row in rows if row.get("linkedid") == linkedid]


async def wait_cdr(path: Path, linkedid: str, timeout: float) -> list[dict[str, str]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = cdr_rows(path, linkedid)
        if any(row["disposition"] == "ANSWERED" for row in rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"no ANSWERED CDR for {linkedid} in {path}: {rows}")
        await asyncio.sleep(0.2)


async def wait_exit(process: Caller | Phone, timeout: float) -> int:
    return await asyncio.to_thread(process.wait, timeout)


async def test_queue_call_reaches_ami_and_cdr(
    asterisk_sandbox: SandboxStatus,
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    started = time.monotonic()
    link = await _link()
    try:
        op101 = operator_phone("101", ring_ms=1000)
        caller = sipp_caller(did="74951112233", cidnum="84951234567", cidname="Ivan", hold_ms=1500)

        def first(m: Message) -> bool:
            return bool(m.get("Event") == "Newchannel" and m.get("CallerIDNum") == "84951234567")

        events = await call_events(link, first, caller_hung_up, timeout=20)
        assert await wait_exit(caller, 10) == 0, caller.diagnostics()
    finally:
        await link.stop()

    newchannel = events[0]
    assert newchannel.get("Event") == "Newchannel"
    assert newchannel.get("CallerIDName") == "Ivan"
    assert newchannel.get("Exten") == "74951112233"
    assert str(newchannel.get("Channel")).startswith("PJSIP/trunk-")
    joined = index_of(events, "QueueCallerJoin", Queue="support")
    called = index_of(events, "AgentCalled", Interface="PJSIP/op101")
    connected = index_of(events, "AgentConnect", Interface="PJSIP/op101")
    hangup = index_of(events, "Hangup", Uniqueid=str(newchannel.get("Linkedid")))
    assert 0 < joined < called < connected < hangup, names(events)
    assert events[called].get("CallerIDNum") == "84951234567"
    assert op101.counts()[1] == 0, op101.diagnostics()

    linkedid = str(newchannel.get("Linkedid"))
    rows = await wait_cdr(asterisk_sandbox.cdr_csv, linkedid, timeout=10)
    answered = [row for row in rows if row["disposition"] == "ANSWERED"]
    assert answered[0]["src"] == "84951234567"
    assert answered[0]["dst"] == "74951112233"
    assert answered[0]["dstchannel"].startswith("PJSIP/op101-")
    print(f"queue call: {len(events)} events, {time.monotonic() - started:.1f} s")


@pytest.mark.parametrize(("did", "cidnum"), [("101", "84950000101"), ("200", "84950000200")])
async def test_direct_dial_and_ring_group_ring_op101(
    did: str,
    cidnum: str,
    asterisk_sandbox: SandboxStatus,
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    link = await _link()
    try:
        op101 = operator_phone("101", ring_ms=500)
        # op102 is in the ring group too; it rings until op101 answers (CANCEL)
        op102 = operator_phone("102", ring_ms=10_000)
        caller = sipp_caller(did=did, cidnum=cidnum, cidname="Тест", hold_ms=500)

        def first(m: Message) -> bool:
            return bool(m.get("Event") == "Newchannel" and m.get("CallerIDNum") == cidnum)

        events = await call_events(link, first, caller_hung_up, timeout=20)
        assert await wait_exit(caller, 10) == 0, caller.diagnostics()
    finally:
        await link.stop()

    assert events[0].get("CallerIDName") == "Тест"
    dials = [m for m in events if m.get("Event") == "DialBegin"]
    targets = {str(m.get("DestChannel")).rpartition("-")[0] for m in dials}
    assert "PJSIP/op101" in targets, names(events)
    if did == "200":
        assert targets == {"PJSIP/op101", "PJSIP/op102"}
        ends = {
            str(m.get("DestChannel")).rpartition("-")[0]: m.get("DialStatus")
            for m in events
            if m.get("Event") == "DialEnd"
        }
        assert ends["PJSIP/op101"] == "ANSWER"
        assert ends["PJSIP/op102"] == "CANCEL"
    else:
        assert targets == {"PJSIP/op101"}
    index_of(events, "BridgeEnter")
    for phone in (op101, op102):
        assert phone.counts()[1] == 0, phone.diagnostics()


async def test_injected_callers_each_bring_their_own_number(
    asterisk_sandbox: SandboxStatus,
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    specs = [
        CallSpec("84950000301", "Анна Иванова", "103"),
        CallSpec("84950000302", "Boris", "103"),
        CallSpec("+79161234567", "", "103"),
    ]
    wanted = {spec.cidnum for spec in specs}
    link = await _link()
    try:
        operator_phone("103", ring_ms=200)
        caller = sipp_caller(specs=specs, calls=3, rate=10, hold_ms=300)
        seen: dict[str, str] = {}
        stream = link.events()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        try:
            while len(seen) < len(wanted):
                m = await asyncio.wait_for(anext(stream), max(deadline - loop.time(), 0))
                number = str(m.get("CallerIDNum"))
                if m.get("Event") == "Newchannel" and number in wanted:
                    seen[number] = str(m.get("CallerIDName"))
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        assert await wait_exit(caller, 10) == 0, caller.diagnostics()
        assert caller.counts() == (3, 0)
    finally:
        await link.stop()
    assert seen == {
        "84950000301": "Анна Иванова",
        "84950000302": "Boris",
        "+79161234567": "<unknown>",  # AMI's word for an empty name
    }


async def test_dialer_originate_rings_operator_then_customer(
    asterisk_sandbox: SandboxStatus,
    operator_phone: Callable[..., Phone],
    sipp_dir: Path,
) -> None:
    """Originate: op104 answers, [dialer-outbound] dials the customer via the trunk;
    the customer hangs up after talking a while."""
    with Phone.customers(sipp_dir, ring_ms=300, talk_ms=800) as customers:
        op104 = operator_phone("104", ring_ms=200)
        link = await _link()
        try:
            reply = await asyncio.wait_for(
                link.send(
                    {
                        "Action": "Originate",
                        "Channel": "PJSIP/op104",
                        "Context": "dialer-outbound",
                        "Exten": "89161234567",
                        "Priority": "1",
                        "CallerID": "Campaign <74950000000>",
                        "Async": "true",
                        "Variable": ["CALLCENTER_CAMPAIGN=7", "CALLCENTER_LEAD=42"],
                    }
                ),
                15,
            )

            def first(m: Message) -> bool:
                return bool(
                    m.get("Event") == "Newchannel"
                    and str(m.get("Channel")).startswith("PJSIP/op104-")
                )

            events = await call_events(link, first, caller_hung_up, timeout=20)
        finally:
            await link.stop()
    replies = reply if isinstance(reply, list) else [reply]
    assert replies[0].get("Response") == "Success", replies
    dials = [str(m.get("DestChannel")) for m in events if m.get("Event") == "DialBegin"]
    assert any(d.startswith("PJSIP/trunk-") for d in dials), names(events)
    trunk_dial = next(m for m in events if str(m.get("DestChannel")).startswith("PJSIP/trunk-"))
    assert trunk_dial.get("DialString") == "89161234567@trunk"
    assert sum(1 for m in events if m.get("Event") == "BridgeEnter") == 2, names(events)
    campaign = [
        m
        for m in events
        if m.get("Event") == "VarSet" and m.get("Variable") == "CALLCENTER_CAMPAIGN"
    ]
    assert campaign and campaign[0].get("Value") == "7"
    assert customers.counts() == (1, 0), customers.diagnostics()
    assert op104.counts()[1] == 0, op104.diagnostics()
