"""The region and time zone of each imported row's first phone, found in a worker process.

Looking a number up in ``phonenumbers`` is two thirds of what parsing a CSV row costs
the interpreter. Threads would take turns at the same interpreter lock, so the lookups
run in a process of their own (``python -m callcenter.import_places``), beside the
thread that parses the next batch, on the machine's other core; the database is idle
then, it works once the file has been read. A batch goes to the worker as one JSON
line of numbers and comes back as one JSON line of [region, time zone] pairs.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from types import TracebackType

from callcenter.phone_geography import geography

Place = tuple[str | None, str | None]  # (region, time zone)
LINE_LIMIT = 64 * 1024 * 1024  # a batch's answers, as one line


def places_of(numbers: Sequence[str]) -> list[Place]:
    """One answer per E.164 number, in order."""
    answers = []
    for number in numbers:
        place = geography(number)
        answers.append((place.region, place.time_zone))
    return answers


class PlaceFinder:
    """One worker process for one import; ``async with`` ends it, also when the import
    fails or is cancelled."""

    def __init__(self) -> None:
        self._worker: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> PlaceFinder:
        self._worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "callcenter.import_places",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
        )
        return self

    async def find(self, numbers: Sequence[str]) -> list[Place]:
        worker = self._worker
        assert worker is not None and worker.stdin is not None and worker.stdout is not None
        if not numbers:
            return []
        worker.stdin.write(json.dumps(list(numbers)).encode() + b"\n")
        await worker.stdin.drain()
        line = await worker.stdout.readline()
        if not line:
            raise RuntimeError(f"the place lookup process ended (exit code {await worker.wait()})")
        answers = [(region, zone) for region, zone in json.loads(line)]
        if len(answers) != len(numbers):
            raise RuntimeError("the place lookup process answered for other numbers")
        return answers

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        if worker.returncode is None:
            worker.kill()
        await worker.wait()


def _serve() -> None:
    """The worker: a batch of numbers per line in, their places per line out."""
    geography("+74951234567")  # read the place names before the first batch arrives
    for line in sys.stdin:
        sys.stdout.write(json.dumps(places_of(json.loads(line))) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve()
