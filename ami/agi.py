"""FastAGI routing server: Asterisk asks whom an inbound call should ring first.

The inbound dialplan calls ``AGI(agi://127.0.0.1:4573/route)`` before
``Queue()``; the ``route`` script sets the channel variable ``CALLCENTER_MANAGER``
to the personal manager's device, or to nothing, and the dialplan dials it
before the queue. Whatever goes wrong here, the call still goes to the queue:
Asterisk continues the dialplan when the server is down (``AGISTATUS=FAILURE``)
or closes the connection, and every wait below is bounded.

panoramisk 1.4's ``fast_agi.Application`` provides the route table and
``Request.send_command``; its ``handler`` is replaced because it

- freezes the whole event loop when the peer closes before the blank line that
  ends the headers: ``reader.read`` then returns ``b""`` without ever yielding,
  and the loop around it never ends (no size limit either);
- has no timeout: a peer that never answers holds the task forever;
- catches ``BaseException``, so a cancelled request swallows its cancellation;
- closes the socket without waiting for it to close;

and ``send_command`` sends the command unchecked (a CR/LF in a value would be a
second AGI command) and raises ``ValueError`` on a connection closed mid-reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from panoramisk import fast_agi
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.routing import personal_manager_device

log = logging.getLogger(__name__)

ROUTE = "route"
MANAGER_VARIABLE = "CALLCENTER_MANAGER"
LOOKUP_DEADLINE = 0.3
"""Seconds the caller may wait for the lookup; past it the call goes to the queue."""
REQUEST_TIMEOUT = 2.0
"""Seconds for one whole AGI conversation (headers, lookup, SET VARIABLE)."""
MAX_HEADER_BYTES = 16 * 1024

# what a dialplan Dial() accepts as one device: no '&' (a second device) or ','
DEVICE = re.compile(r"[A-Za-z0-9]+/[A-Za-z0-9_.@:+-]+")
_VARIABLE_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_UNSAFE_VALUE = re.compile(r'[\r\n\0"\\]')

FindDevice = Callable[[str], Awaitable[str | None]]


class AgiError(RuntimeError):
    """Asterisk refused a command, hung up, or the conversation broke off."""


def safe_device(device: str | None) -> str:
    """The device as a value for ``CALLCENTER_MANAGER``: a single Dial() target, or ""."""
    if device is None:
        return ""
    if not DEVICE.fullmatch(device):
        log.error("personal manager's device %r is not a plain device name; queueing", device)
        return ""
    return device


def set_variable_command(name: str, value: str) -> str:
    """``SET VARIABLE NAME "value"``; refuses anything that could end or escape the line."""
    if not _VARIABLE_NAME.fullmatch(name):
        raise ValueError(f"bad channel variable name {name!r}")
    if _UNSAFE_VALUE.search(value) or len(value) > 256:
        raise ValueError(f"unsafe value for {name}: {value!r}")
    return f'SET VARIABLE {name} "{value}"'


def parse_headers(block: bytes) -> dict[str, str]:
    """The ``agi_*`` headers Asterisk sends first, one ``key: value`` per line."""
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            headers[key.strip()] = value.strip()
    return headers


async def send_command(request: Any, command: str) -> dict[str, Any]:
    """One AGI command through panoramisk; ``AgiError`` unless Asterisk answered 200."""
    try:
        result: dict[str, Any] = await request.send_command(command)
    except ValueError:  # panoramisk's parser on an empty line: the connection closed
        raise AgiError(f"connection closed during {command.split()[0]}") from None
    if result.get("status_code") != 200 or "error" in result:
        raise AgiError(f"{command.split()[0]}: {result.get('error')} {result.get('msg', '')}")
    return result


class _RoutingApplication(fast_agi.Application):  # type: ignore[misc]
    """panoramisk's FastAGI application with a bounded, cancellable ``handler``."""

    def __init__(self, find_device: FindDevice, deadline: float) -> None:
        super().__init__(loop=asyncio.get_running_loop())
        self._find_device = find_device
        self._deadline = deadline
        self.requests: set[asyncio.Task[Any]] = set()
        self.add_route(ROUTE, self._route_call)

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.requests.add(task)
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                await self._serve(reader, writer)
        except TimeoutError:
            log.warning("FastAGI request took over %.1f s; dropped", REQUEST_TIMEOUT)
        except (AgiError, ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("FastAGI request ended early: %s", exc)
        except asyncio.LimitOverrunError:
            log.warning("FastAGI headers over %d bytes; dropped", MAX_HEADER_BYTES)
        except Exception:
            log.exception("FastAGI request failed")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            if task is not None:
                self.requests.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        headers = parse_headers(await reader.readuntil(b"\n\n"))
        script = headers.get("agi_network_script", "")
        endpoint = self._route.get(script)
        if endpoint is None:
            log.warning("FastAGI request for unknown script %r", script)
            return
        await endpoint(
            fast_agi.Request(
                app=self, headers=headers, reader=reader, writer=writer, encoding="utf-8"
            )
        )

    async def _route_call(self, request: Any) -> None:
        headers: Mapping[str, str] = request.headers
        number = headers.get("agi_callerid", "")
        device: str | None = None
        try:
            async with asyncio.timeout(self._deadline):
                device = await self._find_device(number)
        except TimeoutError:
            log.warning("personal manager lookup over %.0f ms; queueing", self._deadline * 1000)
        except Exception:
            log.exception("personal manager lookup failed; queueing")
        value = safe_device(device)
        await send_command(request, set_variable_command(MANAGER_VARIABLE, value))
        log.debug("routed %s on %s to %r", number, headers.get("agi_channel"), value)

    async def close(self) -> None:
        """Cancel the requests still being served and wait for them."""
        requests = list(self.requests)
        for task in requests:
            task.cancel()
        await asyncio.gather(*requests, return_exceptions=True)


@dataclass(frozen=True)
class AgiAddress:
    host: str
    port: int


@asynccontextmanager
async def fastagi_server(
    host: str, port: int, find_device: FindDevice, *, deadline: float = LOOKUP_DEADLINE
) -> AsyncIterator[AgiAddress]:
    """Serve the ``route`` script on ``host:port`` (0: any free port) until the block ends."""
    app = _RoutingApplication(find_device, deadline)
    server = await asyncio.start_server(app.handler, host, port, limit=MAX_HEADER_BYTES)
    bound = server.sockets[0].getsockname()
    log.info("FastAGI routing on %s:%d", bound[0], bound[1])
    try:
        yield AgiAddress(bound[0], bound[1])
    finally:
        server.close()
        await app.close()
        await server.wait_closed()


def routing_server(
    host: str,
    port: int,
    db: async_sessionmaker[AsyncSession],
    region: str,
    *,
    deadline: float = LOOKUP_DEADLINE,
) -> contextlib.AbstractAsyncContextManager[AgiAddress]:
    """The FastAGI server answering with personal managers from the client base."""

    async def find_device(number: str) -> str | None:
        async with db() as session:
            return await personal_manager_device(session, number, region)

    return fastagi_server(host, port, find_device, deadline=deadline)
