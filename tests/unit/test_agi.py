"""The FastAGI routing server, spoken to as Asterisk would (no Asterisk, no database)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from ami.agi import (
    MANAGER_VARIABLE,
    AgiAddress,
    fastagi_server,
    parse_headers,
    safe_device,
    set_variable_command,
)

HEADERS = (
    "agi_network: yes\n"
    "agi_network_script: {script}\n"
    "agi_request: agi://127.0.0.1:4573/{script}\n"
    "agi_channel: PJSIP/trunk-00000001\n"
    "agi_language: en\n"
    "agi_type: PJSIP\n"
    "agi_uniqueid: 1700000000.1\n"
    "agi_callerid: {number}\n"
    "agi_calleridname: Ivan\n"
    "agi_context: from-trunk\n"
    "agi_extension: 74951112233\n"
    "agi_priority: 5\n"
    "\n"
)


class FakeAsterisk:
    """One AGI conversation: send the headers, answer each command with ``reply``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def call(
        cls, address: AgiAddress, number: str = "84951234567", script: str = "route"
    ) -> FakeAsterisk:
        reader, writer = await asyncio.open_connection(address.host, address.port)
        writer.write(HEADERS.format(script=script, number=number).encode())
        await writer.drain()
        return cls(reader, writer)

    async def command(self, reply: bytes | None = b"200 result=1\n") -> str:
        line = await asyncio.wait_for(self.reader.readline(), 5)
        if reply is not None:
            self.writer.write(reply)
            await self.writer.drain()
        return line.decode()

    async def closed_by_server(self, timeout: float = 5) -> bool:
        rest = await asyncio.wait_for(self.reader.read(), timeout)
        return rest == b""

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def finder(
    answers: dict[str, str | None], delay: float = 0
) -> Callable[[str], Awaitable[str | None]]:
    async def find(number: str) -> str | None:
        await asyncio.sleep(delay)
        return answers.get(number)

    return find


@pytest.fixture
async def server() -> AsyncIterator[AgiAddress]:
    answers = {"84951234567": "PJSIP/op102"}
    async with fastagi_server("127.0.0.1", 0, finder(answers)) as address:
        yield address


async def test_known_caller_gets_the_managers_device(server: AgiAddress) -> None:
    asterisk = await FakeAsterisk.call(server, "84951234567")
    assert await asterisk.command() == f'SET VARIABLE {MANAGER_VARIABLE} "PJSIP/op102"\n'
    assert await asterisk.closed_by_server()
    await asterisk.close()


@pytest.mark.parametrize("number", ["84950000000", "unknown", ""])
async def test_unknown_or_anonymous_caller_gets_an_empty_variable(
    server: AgiAddress, number: str
) -> None:
    asterisk = await FakeAsterisk.call(server, number)
    assert await asterisk.command() == f'SET VARIABLE {MANAGER_VARIABLE} ""\n'
    assert await asterisk.closed_by_server()
    await asterisk.close()


async def test_unknown_script_closes_without_a_command(server: AgiAddress) -> None:
    asterisk = await FakeAsterisk.call(server, script="other")
    assert await asterisk.closed_by_server()
    await asterisk.close()


@pytest.mark.parametrize(
    "device",
    [
        "PJSIP/op102\nEXEC System rm",
        "PJSIP/op101&PJSIP/op102",
        "PJSIP/op102,,D(1)",
        'PJSIP/op102" X',
        "op102",
    ],
)
async def test_a_device_that_is_not_one_plain_name_is_never_sent(device: str) -> None:
    async with fastagi_server("127.0.0.1", 0, finder({"84951234567": device})) as address:
        asterisk = await FakeAsterisk.call(address)
        assert await asterisk.command() == f'SET VARIABLE {MANAGER_VARIABLE} ""\n'
        assert await asterisk.closed_by_server()
        await asterisk.close()


async def test_a_slow_lookup_queues_the_call_within_the_deadline() -> None:
    slow = finder({"84951234567": "PJSIP/op102"}, delay=5)
    async with fastagi_server("127.0.0.1", 0, slow, deadline=0.3) as address:
        started = time.monotonic()
        asterisk = await FakeAsterisk.call(address)
        assert await asterisk.command() == f'SET VARIABLE {MANAGER_VARIABLE} ""\n'
        assert time.monotonic() - started < 0.6
        await asterisk.close()


async def test_a_failing_lookup_queues_the_call(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(number: str) -> str | None:
        raise OSError("database is down")

    async with fastagi_server("127.0.0.1", 0, broken) as address:
        asterisk = await FakeAsterisk.call(address)
        assert await asterisk.command() == f'SET VARIABLE {MANAGER_VARIABLE} ""\n'
        await asterisk.close()
    assert "lookup failed" in caplog.text


async def test_peer_closing_before_the_headers_end_does_not_spin(server: AgiAddress) -> None:
    # panoramisk's own handler never yields again here: the whole event loop freezes
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"agi_network: yes\nagi_network_script: route\n")
    await writer.drain()
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    await writer.wait_closed()
    # the loop is free: a normal request right after is answered at once
    asterisk = await FakeAsterisk.call(server)
    assert "PJSIP/op102" in await asterisk.command()
    await asterisk.close()


async def test_oversized_headers_are_dropped(server: AgiAddress) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"agi_x: " + b"y" * 40_000 + b"\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    await writer.wait_closed()


async def test_asterisk_hanging_up_mid_command_is_an_ordinary_end(
    server: AgiAddress, caplog: pytest.LogCaptureFixture
) -> None:
    asterisk = await FakeAsterisk.call(server)
    await asterisk.command(reply=b"HANGUP\n")
    assert await asterisk.closed_by_server()
    await asterisk.close()
    assert "FastAGI request failed" not in caplog.text


async def test_silent_peer_is_dropped_and_stop_cancels_open_requests(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    answers = {"84951234567": "PJSIP/op102"}
    async with fastagi_server("127.0.0.1", 0, finder(answers)) as address:
        # connects and never sends its headers
        reader, writer = await asyncio.open_connection(address.host, address.port)
        # sends headers, never answers the SET VARIABLE
        asterisk = await FakeAsterisk.call(address)
        await asterisk.command(reply=None)
        started = time.monotonic()
    # leaving the block cancelled both requests and closed their sockets
    assert time.monotonic() - started < 1
    assert await asyncio.wait_for(reader.read(), 1) == b""
    assert await asterisk.closed_by_server(timeout=1)
    writer.close()
    await writer.wait_closed()
    await asterisk.close()


async def test_server_stops_listening_when_the_block_ends() -> None:
    async with fastagi_server("127.0.0.1", 0, finder({})) as address:
        pass
    with pytest.raises(OSError):
        await asyncio.open_connection(address.host, address.port)


def test_set_variable_command_refuses_line_breaks_and_quotes() -> None:
    assert set_variable_command("CALLCENTER_MANAGER", "") == 'SET VARIABLE CALLCENTER_MANAGER ""'
    for value in ("a\nb", "a\rb", 'a"b', "a\\b", "a\0b"):
        with pytest.raises(ValueError):
            set_variable_command("CALLCENTER_MANAGER", value)
    with pytest.raises(ValueError):
        set_variable_command("X Y", "1")


def test_safe_device_and_header_parsing() -> None:
    assert safe_device("PJSIP/op102") == "PJSIP/op102"
    assert safe_device("SIP/101@trunk:5060") == "SIP/101@trunk:5060"
    assert safe_device(None) == ""
    assert safe_device("PJSIP/op102\r\n") == ""
    headers = parse_headers(HEADERS.format(script="route", number="").encode())
    assert headers["agi_network_script"] == "route"
    assert headers["agi_callerid"] == ""
