"""The call log's unwritten snapshots: bounded in memory, spilled to disk beyond that.

While the database answers, the backlog holds a handful of calls. While it is away,
every call that changes waits here, and a busy floor changes thousands an hour.
Memory keeps the newest snapshot of at most ``memory_limit`` calls, the calls that
changed most recently; the one that changed longest ago goes, as one JSON line, to
the end of an append-only spill file. The writer takes the spill file first, in
file order, then memory in order of change. So for any one call, snapshots are
written in the order the tracker made them, and the upsert, which keeps what a
row already knows, always ends at the newest:

* a call changed again after it was spilled has its newer snapshot in memory, and
  the spilled one is skipped when read back;
* a call spilled twice has both lines in the file, older first.

Lines are written whole and flushed, not fsynced: the file bounds memory. A process
that dies leaves them with the operating system, and the next start writes them
first; a line cut short by a crash of the machine is skipped with a warning. Once
every line is read back the file is removed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import BinaryIO

from callcenter.call_snapshots import BadSnapshot, decode, encode
from callcenter.tracking import TrackedCall

log = logging.getLogger(__name__)

# a few kilobytes each: tens of megabytes at most, however long the database is away
MEMORY_LIMIT = 10_000


class CallBacklog:
    def __init__(self, spill_file: Path | None, *, memory_limit: int = MEMORY_LIMIT) -> None:
        """``spill_file=None``: memory only and unbounded (tests, tools writing a few calls)."""
        if memory_limit < 1:
            raise ValueError("memory_limit must be at least 1")
        self.spill_file = spill_file
        self.memory_limit = memory_limit if spill_file is not None else None
        self._memory: dict[str, TrackedCall] = {}  # by linkedid, oldest change first
        self._append: BinaryIO | None = None
        self._read: BinaryIO | None = None
        self._unread = 0  # lines on disk not read back yet
        self._offset = 0  # where in the file they start
        self._disk_head: TrackedCall | None = None  # read back, not yet written
        self.peak_in_memory = 0
        self.spilled = 0  # lines written to the spill file, ever
        self.peak_on_disk_bytes = 0
        if spill_file is not None and spill_file.exists() and spill_file.stat().st_size:
            self._adopt(spill_file)

    # ------------------------------------------------------------ the tracker's side

    def put(self, call: TrackedCall) -> None:
        """The newest snapshot of ``call``: replaces an older one still in memory."""
        self._memory.pop(call.linkedid, None)  # re-insert: the newest change goes last
        self._memory[call.linkedid] = call
        while self.memory_limit is not None and len(self._memory) > self.memory_limit:
            oldest = next(iter(self._memory))
            self._spill(self._memory.pop(oldest))
        self.peak_in_memory = max(self.peak_in_memory, len(self._memory))

    # ------------------------------------------------------------ the writer's side

    def next(self) -> TrackedCall | None:
        """The snapshot to write next (it stays in the backlog until ``done``)."""
        if self._unread and self._read is None:
            self._open()  # closed by an earlier stop of the writer
        while self._disk_head is None and self._unread:
            call = self._read_line()
            if call is not None and call.linkedid not in self._memory:
                self._disk_head = call
        if self._disk_head is not None:
            return self._disk_head
        if self._append is not None or self._offset:
            self._drained()
        return next(iter(self._memory.values()), None)

    def done(self, call: TrackedCall) -> None:
        """``call`` (as ``next`` gave it) is written."""
        if call is self._disk_head:
            self._disk_head = None
        elif self._memory.get(call.linkedid) is call:
            del self._memory[call.linkedid]
        # else it changed (or spilled) meanwhile: the newer snapshot is still to write

    def __len__(self) -> int:
        """Snapshots waiting, in memory and on disk (a call may count twice)."""
        return len(self._memory) + self._unread + (self._disk_head is not None)

    @property
    def in_memory(self) -> int:
        return len(self._memory)

    @property
    def on_disk(self) -> int:
        return self._unread + (self._disk_head is not None)

    def close(self) -> None:
        """Shutting down: what is still in memory goes to disk for the next start."""
        if self.spill_file is not None and self._memory:
            for call in self._memory.values():
                self._spill(call, stopping=True)
            self._memory.clear()
        if self.on_disk:
            log.warning(
                "call log: %d call snapshots not written yet, kept in %s for the next start",
                self.on_disk,
                self.spill_file,
            )
        self._close_files()

    # ------------------------------------------------------------ the spill file

    def _spill(self, call: TrackedCall, *, stopping: bool = False) -> None:
        # a buffered write and a flush: microseconds, so the tracker's event loop
        # (the AMI reader) may do it inline
        assert self.spill_file is not None
        if self._append is None:
            if not stopping and not self.spill_file.exists():
                log.warning(
                    "call log: the database is behind, keeping calls beyond %d in %s",
                    self.memory_limit,
                    self.spill_file,
                )
            self._open()
        assert self._append is not None
        self._append.write(encode(call))
        self._append.flush()
        self._unread += 1
        self.spilled += 1
        self.peak_on_disk_bytes = max(self.peak_on_disk_bytes, self._append.tell())

    def _read_line(self) -> TrackedCall | None:
        assert self._read is not None
        line = self._read.readline()
        self._offset = self._read.tell()
        self._unread -= 1
        try:
            return decode(line)
        except BadSnapshot as exc:
            log.warning("call log: skipped a line of %s: %s", self.spill_file, exc)
            return None

    def _drained(self) -> None:
        assert self.spill_file is not None
        size, self._offset = self._offset, 0
        self._close_files()
        self.spill_file.unlink()
        log.warning(
            "call log: caught up; %s read back and removed (%d bytes)", self.spill_file, size
        )

    def _open(self) -> None:
        assert self.spill_file is not None
        self.spill_file.parent.mkdir(parents=True, exist_ok=True)
        self._append = self.spill_file.open("ab")
        self._read = self.spill_file.open("rb")
        self._read.seek(self._offset)

    def _close_files(self) -> None:
        for handle in (self._append, self._read):
            if handle is not None:
                handle.close()
        self._append = self._read = None

    def _adopt(self, spill_file: Path) -> None:
        """A spill file an earlier run left: written first, as if spilled just now."""
        with spill_file.open("rb+") as file:
            data = file.read()
            if not data.endswith(b"\n"):
                # cut short by a crash: end the broken line, so it is skipped alone
                # rather than glued to the next one appended
                file.write(b"\n")
                data += b"\n"
        self._unread = data.count(b"\n")
        self._open()
        self.peak_on_disk_bytes = len(data)
        log.warning(
            "call log: %d call snapshots left in %s by an earlier run; writing them first",
            self._unread,
            spill_file,
        )
