"""sipp phones and callers for the sandbox Asterisk.

Each object runs one ordinary ``sipp`` child process (never ``-bg``: that forks
away, and the ports stay taken) with its scenario, statistics and error traces in
a work folder. ``Phone`` answers calls (an operator's phone on 5070+N, or the
dialer's simulated customers on 5090); ``Caller`` places calls into the trunk
context with a chosen caller number and name.

    with Phone.operator("101", workdir, ring_ms=1000), Caller(
        workdir, did="74951112233", cidnum="84951234567", cidname="Ivan"
    ) as caller:
        caller.wait(30)
"""

from __future__ import annotations

import contextlib
import csv
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
ASTERISK = ("127.0.0.1", 5060)
LOCAL_IP = "127.0.0.1"
OPERATOR_BASE_PORT = 5070
"""Operator op1NN's phone listens on 5070 + NN: op101 -> 5071 ... op110 -> 5080."""
CUSTOMERS_PORT = 5090
"""The trunk's contact: calls to customers (dialer, operators dialling out) ring here."""
FOREVER_MS = 24 * 3600 * 1000

# the name sits in a quoted SIP display name (where < and > are fine: tests send
# hostile names on purpose) and in sipp's ;-separated injection file
_UNSAFE = str.maketrans("", "", ';"\\\r\n\t\0')


# the scenarios use receive timeouts as timers (ring, talk); sipp logs each one
_TIMER_NOISE = (
    "receive timeout on message",
    "The following events occurred",
    "There were more errors",
    "Resolving remote",
)


class SippError(RuntimeError):
    """sipp is missing, or a sipp process could not start."""


def sipp_binary() -> str:
    found = shutil.which("sipp")
    if found is None:
        raise SippError("sipp is not installed: apt-get install sip-tester")
    return found


def operator_port(extension: str | int) -> int:
    """Phone port of an operator: "op101", "101" or 101 -> 5071."""
    number = int(str(extension).removeprefix("op"))
    if not 101 <= number <= 110:
        raise ValueError(f"sandbox operators are op101..op110, not {extension!r}")
    return OPERATOR_BASE_PORT + number - 100


def free_udp_port(host: str = LOCAL_IP) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


def udp_listening(port: int) -> bool:
    """True when some socket on this machine is bound to UDP ``port`` (reads /proc/net)."""
    suffix = f":{port:04X}"
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError), open(table) as f:
            next(f, None)
            for line in f:
                fields = line.split()
                if len(fields) > 1 and fields[1].endswith(suffix):
                    return True
    return False


def clean(text: str) -> str:
    """A caller number or name safe for a SIP header and sipp's CSV injection file."""
    return text.translate(_UNSAFE).strip()


@dataclass(frozen=True)
class CallSpec:
    """One line of a caller's injection file: who calls which number."""

    cidnum: str
    cidname: str = ""
    did: str = "74951112233"


class SippProcess:
    """One tracked sipp child process; start/stop/wait, usable as a context manager."""

    def __init__(self, name: str, workdir: Path, scenario: str, args: Sequence[str]) -> None:
        self.name = name
        self.workdir = workdir
        self.scenario_path = workdir / f"{name}.xml"
        self.stat_path = workdir / f"{name}_stat.csv"
        self.errors_path = workdir / f"{name}_errors.log"
        self.screen_path = workdir / f"{name}_screen.log"
        self.stderr_path = workdir / f"{name}.stderr.log"
        self._scenario = scenario
        self._args = list(args)
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self.message_log: Path | None = None

    @property
    def command(self) -> list[str]:
        return [
            sipp_binary(),
            *self._args,
            "-sf",
            str(self.scenario_path),
            "-nostdin",
            "-trace_err",
            "-error_file",
            str(self.errors_path),
            "-trace_stat",
            "-stf",
            str(self.stat_path),
            "-fd",
            "1",
            "-trace_screen",
            "-screen_file",
            str(self.screen_path),
        ]

    def log_messages(self) -> Path:
        """Keep every SIP message sipp sends or receives, with its time (benchmarks)."""
        self.message_log = self.workdir / f"{self.name}_messages.log"
        self._args += ["-trace_msg", "-message_file", str(self.message_log)]
        return self.message_log

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """sipp's exit code: 0 all calls succeeded, 1 some failed, 99 no call, <0 fatal."""
        return self._proc.poll() if self._proc else None

    def start(self) -> Self:
        if self._proc is not None:
            raise SippError(f"{self.name} already started")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.scenario_path.write_text(self._scenario, encoding="utf-8")
        command = self.command
        self._stderr = self.stderr_path.open("wb")
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # the live screen; -trace_screen keeps the final one
            stderr=self._stderr,
            cwd=self.workdir,
        )
        return self

    def wait(self, timeout: float) -> int:
        """Wait for sipp to exit; raises ``subprocess.TimeoutExpired``."""
        if self._proc is None:
            raise SippError(f"{self.name} was not started")
        code = self._proc.wait(timeout=timeout)
        self._close()
        return code

    def stop(self, timeout: float = 3.0) -> int | None:
        """Terminate (then kill) sipp; returns its exit code."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=timeout)
        self._close()
        return self._proc.returncode

    def _close(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def stats(self) -> dict[str, str]:
        """The latest row of sipp's statistics (``SuccessfulCall(C)``, ``FailedCall(C)``...)."""
        try:
            with self.stat_path.open(newline="", encoding="utf-8", errors="replace") as f:
                rows = list(csv.reader(f, delimiter=";"))
        except OSError:
            return {}
        if len(rows) < 2:
            return {}
        return dict(zip(rows[0], rows[-1], strict=False))

    def counts(self) -> tuple[int, int]:
        """(successful, failed) calls so far, from the statistics file."""
        row = self.stats()

        def number(key: str) -> int:
            with contextlib.suppress(ValueError):
                return int(row.get(key, "0") or 0)
            return 0

        return number("SuccessfulCall(C)"), number("FailedCall(C)")

    def diagnostics(self) -> str:
        """sipp's stderr and unexpected-message trace, for assertion messages."""
        parts = []
        for path in (self.stderr_path, self.errors_path):
            with contextlib.suppress(OSError):
                lines = [
                    line
                    for line in path.read_text(errors="replace").splitlines()
                    if line.strip() and not any(noise in line for noise in _TIMER_NOISE)
                ]
                if lines:
                    parts.append(f"--- {path.name}\n" + "\n".join(lines[-40:]))
        return "\n".join(parts) or "(sipp wrote no errors)"

    def __enter__(self) -> Self:
        if self._proc is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} pid={self.pid}>"


def render(name: str, **values: object) -> str:
    """A scenario template with its ``{{name}}`` placeholders filled in."""
    text = (SCENARIOS / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", str(value))
    left = re.search(r"\{\{(\w+)\}\}", text)
    if left:
        raise KeyError(f"scenario {name} needs a value for {left.group(1)!r}")
    return text


SILENCE_SECONDS = 10  # sipp loops the file


def silence_file(workdir: Path) -> Path:
    """Raw PCMU silence (0xFF is zero in mu-law) for a customer that sends sound."""
    path = workdir / "silence.pcmu"
    if not path.exists():
        workdir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\xff" * 8000 * SILENCE_SECONDS)
    return path


class Phone(SippProcess):
    """A phone that answers every call: rings ``ring_ms``, answers, waits for BYE.

    Runs until stopped and takes any number of calls, also at once. With
    ``answer=False`` it rings until the caller gives up (CANCEL); with
    ``talk_ms`` it hangs up itself after that long (unless the other side did).
    """

    def __init__(
        self,
        port: int,
        workdir: Path,
        *,
        ring_ms: int = 1000,
        answer: bool = True,
        talk_ms: int | None = None,
        name: str | None = None,
        local_ip: str = LOCAL_IP,
        template: str = "phone_uas.xml",
    ) -> None:
        self.port = port
        self.ring_ms = ring_ms if answer else FOREVER_MS
        self.talk_ms = talk_ms if talk_ms is not None else FOREVER_MS
        values: dict[str, object] = {"ring_ms": self.ring_ms, "talk_ms": self.talk_ms}
        if template == "customers_uas.xml":
            values["silence"] = silence_file(workdir)
        scenario = render(template, **values)
        # no -m: take calls until stopped
        args = ["-i", local_ip, "-p", str(port)]
        super().__init__(name or f"phone-{port}", workdir, scenario, args)

    def start(self, ready_timeout: float = 5.0) -> Self:
        """Start sipp and return once it listens on its port (so no INVITE is lost)."""
        if udp_listening(self.port):
            raise SippError(f"UDP port {self.port} is already taken (another phone running?)")
        super().start()
        deadline = time.monotonic() + ready_timeout
        while not udp_listening(self.port):
            if not self.running or time.monotonic() > deadline:
                self.stop()
                raise SippError(f"{self.name} did not start:\n{self.diagnostics()}")
            time.sleep(0.02)
        return self

    @classmethod
    def operator(
        cls,
        extension: str | int,
        workdir: Path,
        *,
        ring_ms: int = 1000,
        answer: bool = True,
        talk_ms: int | None = None,
    ) -> Phone:
        """The phone of operator op1NN (``"101"``, ``"op101"`` or ``101``)."""
        number = int(str(extension).removeprefix("op"))
        port = operator_port(number)
        return cls(
            port, workdir, ring_ms=ring_ms, answer=answer, talk_ms=talk_ms, name=f"op{number}"
        )

    @classmethod
    def customers(
        cls,
        workdir: Path,
        *,
        ring_ms: int = 2000,
        answer: bool = True,
        talk_ms: int | None = None,
        by_number: bool = False,
    ) -> Phone:
        """The simulated customers behind the trunk (every outgoing call rings here).

        ``by_number``: what each customer does depends on the number dialled
        (``scenarios/customers_uas.xml``): 7495486... busy, 7495603... declines,
        7495403... forbidden, 7495180... rings until given up, 7495777... is an
        answering machine (answers, then silence); others answer.
        """
        return cls(
            CUSTOMERS_PORT,
            workdir,
            ring_ms=ring_ms,
            answer=answer,
            talk_ms=talk_ms,
            name="customers",
            template="customers_uas.xml" if by_number else "phone_uas.xml",
        )


class Caller(SippProcess):
    """Customers calling in: ``calls`` calls at ``rate`` calls per second.

    Every call comes from ``cidnum``/``cidname`` to ``did``, or, with ``specs``,
    call *i* uses line *i* of an injection file (cycling when there are more
    calls than lines). Each answered call lasts ``hold_ms``, then the caller
    hangs up.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        did: str = "74951112233",
        cidnum: str = "84951234567",
        cidname: str = "",
        specs: Sequence[CallSpec] | None = None,
        calls: int = 1,
        rate: float = 1.0,
        hold_ms: int = 3000,
        max_concurrent: int | None = None,
        local_port: int | None = None,
        name: str | None = None,
        asterisk: tuple[str, int] = ASTERISK,
        local_ip: str = LOCAL_IP,
    ) -> None:
        if calls < 1:
            raise ValueError("calls must be at least 1")
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.local_port = local_port or free_udp_port(local_ip)
        self.calls = calls
        name = name or f"caller-{self.local_port}"
        args = [
            f"{asterisk[0]}:{asterisk[1]}",
            "-i",
            local_ip,
            "-p",
            str(self.local_port),
            "-m",
            str(calls),
        ]
        # -r calls per -rp milliseconds; slower than 1/s becomes 1 call per period
        if rate >= 1:
            args += ["-r", f"{rate:g}", "-rp", "1000"]
        else:
            args += ["-r", "1", "-rp", str(round(1000 / rate))]
        if max_concurrent is not None:
            args += ["-l", str(max_concurrent)]
        self.injection_path: Path | None = None
        if specs:
            self.injection_path = workdir / f"{name}_calls.csv"
            keywords = {"did": "[field2]", "cidnum": "[field0]", "cidname": "[field1]"}
            args += ["-inf", str(self.injection_path)]
            self._specs: list[CallSpec] = list(specs)
        else:
            keywords = {"did": "[service]", "cidnum": "[cidnum]", "cidname": "[cidname]"}
            args += ["-s", clean(did), "-key", "cidnum", clean(cidnum), "-key", "cidname"]
            args += [clean(cidname)]
            self._specs = []
        scenario = render("caller_uac.xml", **keywords, hold_ms=hold_ms)
        super().__init__(name, workdir, scenario, args)

    def start(self) -> Self:
        if self.injection_path is not None:
            self.workdir.mkdir(parents=True, exist_ok=True)
            lines = ["SEQUENTIAL"]
            lines += [f"{clean(s.cidnum)};{clean(s.cidname)};{clean(s.did)}" for s in self._specs]
            self.injection_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return super().start()


class ImpatientCaller(SippProcess):
    """A customer who hangs up ``wait_ms`` after it starts ringing, before any answer."""

    def __init__(
        self,
        workdir: Path,
        *,
        did: str = "74951112233",
        cidnum: str = "84957654321",
        cidname: str = "",
        wait_ms: int = 3000,
        name: str | None = None,
        asterisk: tuple[str, int] = ASTERISK,
        local_ip: str = LOCAL_IP,
    ) -> None:
        port = free_udp_port(local_ip)
        scenario = render(
            "caller_gives_up.xml",
            did=clean(did),
            cidnum=clean(cidnum),
            cidname=clean(cidname),
            wait_ms=wait_ms,
        )
        args = [f"{asterisk[0]}:{asterisk[1]}", "-i", local_ip, "-p", str(port), "-m", "1"]
        super().__init__(name or f"impatient-{port}", workdir, scenario, args)
