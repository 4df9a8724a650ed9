"""Record AMI traffic of real sandbox calls into a trace file (JSON lines).

    python -m ami.sandbox.record OUT.jsonl [--calls N]

Needs the sandbox up. Places N inbound queue calls from demo-like numbers that
operator 101's sipp phone answers, and keeps every AMI event with its time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from ami.sandbox.sipp import Caller, CallSpec, Phone

CALLERS = [
    CallSpec("84951234567", "Ivan Petrov", "74951112233"),
    CallSpec("79161234567", "", "74951112244"),
    CallSpec("84997654321", "Maria", "74951112233"),
]


async def _read_frames(reader: asyncio.StreamReader, lines: list[str], started: float) -> None:
    # raw bytes, not panoramisk messages: the trace keeps repeated headers and order
    while True:
        frame = (await reader.readuntil(b"\r\n\r\n")).decode("utf-8", "replace")
        at = round(time.monotonic() - started, 3)
        lines.append(json.dumps({"t": at, "frame": frame[:-4]}, ensure_ascii=False))


async def record(calls: int, settle: float = 3.0) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", 5038)
    await reader.readline()  # greeting
    writer.write(b"Action: Login\r\nUsername: callcenter\r\nSecret: callcenter-sandbox\r\n\r\n")
    lines: list[str] = []
    started = time.monotonic()
    collector = asyncio.create_task(_read_frames(reader, lines, started))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with Phone.operator(101, workdir, ring_ms=2000):
            caller = Caller(workdir, specs=CALLERS[:calls], calls=calls, rate=0.5, hold_ms=3000)
            with caller:
                await asyncio.to_thread(caller.wait, 60)
            await asyncio.sleep(settle)
    collector.cancel()
    await asyncio.gather(collector, return_exceptions=True)
    writer.close()
    # the login response is the link's business, not part of the replayed traffic
    events = [json.loads(line) for line in lines if '"frame": "Event: ' in line]
    # the trace starts at its first event: a replay should not open with silence
    first = events[0]["t"] if events else 0.0
    return [json.dumps({**e, "t": round(e["t"] - first, 3)}, ensure_ascii=False) for e in events]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args()
    events = asyncio.run(record(args.calls))
    args.out.write_text("\n".join(events) + "\n", encoding="utf-8")
    print(f"recorded {len(events)} events into {args.out}")


if __name__ == "__main__":
    main()
