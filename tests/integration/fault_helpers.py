"""Fault-injection set-up: the listener as ``serve`` builds it, and Asterisk's CDR as the oracle.

The link gets the product's own timings (``AmiLink``'s defaults, as in
``callcenter.app.runtime``), so what the tests measure is what a deployment gets.
``CdrFile`` reads the lines Asterisk appends to its ``Master.csv`` (cdr_csv with
``newcdrcolumns``: one line per call leg, the call's linkedid in column 20);
``reconcile`` compares them with the calls table.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.link import AmiLink, LinkState, LiveSnapshot
from ami.telephony import AmiTelephony
from callcenter.app.inbound import InboundPipeline
from callcenter.app.runtime import ORIGINATE_CONTEXT
from callcenter.models import Call
from callcenter.settings import Secret
from tests.integration.cti_helpers import RecordingNotifier

# Master.csv with newcdrcolumns = yes
_CDR_COLUMNS = (
    *("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp"),
    *("lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags"),
    *("uniqueid", "userfield", "peeraccount", "linkedid", "sequence"),
)


@dataclass(frozen=True)
class CdrLine:
    src: str
    dst: str
    channel: str
    dstchannel: str
    disposition: str
    uniqueid: str
    linkedid: str
    start: float  # epoch seconds (Asterisk writes whole seconds, local time)
    end: float


class CdrFile:
    """The CDR lines Asterisk wrote since this object was made (the file outlives restarts)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = path.stat().st_size if path.exists() else 0

    def lines(self) -> list[CdrLine]:
        with self.path.open("rb") as file:
            file.seek(self._offset)
            text = file.read().decode("utf-8", "replace")
        lines = []
        for row in csv.reader(io.StringIO(text)):
            if len(row) < len(_CDR_COLUMNS):
                continue  # a line Asterisk is still writing
            values = dict(zip(_CDR_COLUMNS, row, strict=False))
            lines.append(
                CdrLine(
                    src=values["src"],
                    dst=values["dst"],
                    channel=values["channel"],
                    dstchannel=values["dstchannel"],
                    disposition=values["disposition"],
                    uniqueid=values["uniqueid"],
                    linkedid=values["linkedid"],
                    start=_epoch(values["start"]),
                    end=_epoch(values["end"]),
                )
            )
        return lines

    def calls(self) -> dict[str, list[CdrLine]]:
        """Linkedid -> the call's lines."""
        calls: dict[str, list[CdrLine]] = defaultdict(list)
        for line in self.lines():
            calls[line.linkedid].append(line)
        return dict(calls)


def _epoch(local: str) -> float:
    return datetime.strptime(local, "%Y-%m-%d %H:%M:%S").timestamp() if local else 0.0


@dataclass
class Reconciliation:
    """The calls table against Asterisk's CDR: what a lost or doubled call would show."""

    cdr_calls: int
    rows: int
    missing: list[str]  # in Asterisk's CDR, not in the calls table
    duplicated: list[str]  # rows beyond one per CDR call (a linkedid Asterisk never had)
    in_progress: list[str]  # rows never closed
    wrong_result: list[str]  # answered in the CDR, not answered in the log

    @property
    def unreconciled(self) -> int:
        return (
            len(self.missing) + len(self.duplicated) + len(self.in_progress)
            + len(self.wrong_result)
        )  # fmt: skip


async def call_rows(db: async_sessionmaker[AsyncSession]) -> list[Call]:
    async with db() as session:
        return list((await session.execute(select(Call))).scalars())


def reconcile(cdr: dict[str, list[CdrLine]], rows: Iterable[Call]) -> Reconciliation:
    rows = list(rows)
    counts = Counter(row.linkedid for row in rows)
    by_linkedid = {row.linkedid: row for row in rows}
    answered = {
        linkedid
        for linkedid, lines in cdr.items()
        if any(line.disposition == "ANSWERED" and line.dstchannel for line in lines)
    }
    return Reconciliation(
        cdr_calls=len(cdr),
        rows=len(rows),
        missing=sorted(set(cdr) - set(by_linkedid)),
        duplicated=sorted(
            [k for k in by_linkedid if k not in cdr] + [k for k, n in counts.items() if n > 1]
        ),
        in_progress=sorted(
            row.linkedid for row in rows if row.ended_at is None or row.result == "in_progress"
        ),
        wrong_result=sorted(
            f"{k} logged {by_linkedid[k].result}"
            for k in answered
            if k in by_linkedid and by_linkedid[k].result != "answered"
        ),
    )


@dataclass
class Listener:
    """The inbound pipeline, its link and the click-to-dial telephony, with timestamps."""

    inbound: InboundPipeline
    link: AmiLink
    telephony: AmiTelephony
    notifier: RecordingNotifier
    resynced_at: list[float] = field(default_factory=list)
    states: list[tuple[float, LinkState]] = field(default_factory=list)

    def state_since(self, state: LinkState, after: float) -> float | None:
        return next((t for t, s in self.states if s == state and t >= after), None)

    def resync_since(self, after: float) -> float | None:
        return next((t for t in self.resynced_at if t >= after), None)


@asynccontextmanager
async def listening(db: async_sessionmaker[AsyncSession], ami_port: int) -> AsyncIterator[Listener]:
    """What ``serve`` runs for telephony, on ``ami_port``, with the product's link timings."""
    notifier = RecordingNotifier()
    inbound = InboundPipeline(db, notifier, region="RU")
    link = AmiLink("127.0.0.1", ami_port, "callcenter", Secret("callcenter-sandbox"))
    listener = Listener(
        inbound, link, AmiTelephony(link, originate_context=ORIGINATE_CONTEXT), notifier
    )

    async def resynced(snapshot: LiveSnapshot) -> None:
        await inbound.resync(snapshot)
        listener.resynced_at.append(time.monotonic())

    link.on_resync = resynced
    link.on_state_change = lambda state: listener.states.append((time.monotonic(), state))
    await link.start()
    consumer = asyncio.create_task(inbound.run(link))
    try:
        await link.wait_connected(10)
        yield listener
        await asyncio.wait_for(inbound.call_log.drained(), 30)
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await link.stop()
