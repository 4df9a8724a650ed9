"""Originates per second into the sandbox Asterisk, and how soon each shows up on AMI.

Ten sipp operator phones (op101..op110) answer after ``--ring-ms``; the
simulated customers behind the trunk answer after ``--ring-ms`` and hang up
``--talk-ms`` later, so a call lasts about two seconds and the channels in
use stay bounded (about 2.5 x rate x call length). The product's own path
places the calls: ``AmiTelephony.originate`` (Async, a unique ActionID each)
over ``AmiLink``, into ``dialer-outbound`` (operator first, then customer).

For each rate of ``--rates`` the bench sends that many Originates per second
for ``--seconds`` (on a fixed schedule, never waiting for replies), then lets
the calls end, and reports:

* accepted/s: Originates Asterisk answered "successfully queued", per second
  from the first send to the last reply; reply p50/p99;
* event lag: from sending an Originate to its first AMI event, the
  ``Newchannel`` of the operator's channel (matched through the ``VarSet`` of a
  per-call channel variable, which carries the same Uniqueid); an Originate
  that was refused or never produced an event counts as an infinite lag;
* failures (refused, link errors, no event) and calls that did not connect
  (``OriginateResponse`` other than Success);
* peak live channels, and the CPU used by Asterisk, the sipp phones and this
  process (share of one core), and by the whole machine.

A rate passes when p99 event lag < 1 s and at least 95% of its target rate
was accepted; the final figure is the highest passing rate (target: 50/s).
Starts the sandbox when it is not running (and stops it again at the end).
Needs root, the built sandbox root and sipp. Other users of the sandbox must
wait: run it under ``flock /tmp/cc-sandbox.lock``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ami import sandbox
from ami.link import AmiLink
from ami.sandbox.sipp import Phone
from ami.telephony import AmiTelephony
from callcenter.settings import Secret
from callcenter.telephony import OriginateRequest, TelephonyError

OPERATORS = [str(n) for n in range(101, 111)]
CUSTOMER = "79001234567"
# the per-call channel variable whose VarSet ties a channel to its Originate
TAG = "CC_BENCH_CALL"
TARGET_RATE = 50.0
MAX_LAG_MS = 1000.0
MIN_ACCEPTED_SHARE = 0.95
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ figures


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (``inf`` stays ``inf``); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def _ms(value: float | None) -> float | None:
    """Rounded for the report; JSON has no infinity, so "no event" becomes null."""
    if value is None or math.isinf(value):
        return None
    return round(value, 1)


@dataclass
class StepFigures:
    """What one rate step measured; ``passes`` is the benchmark's criterion."""

    rate: float
    sent: int
    accepted: int
    accepted_per_s: float
    reply_ms: list[float]
    lag_ms: list[float]  # one per Originate sent; inf when no event came
    refused: int
    errors: int
    no_event: int
    not_connected: int
    peak_channels: int
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def lag_p99_ms(self) -> float | None:
        return percentile(self.lag_ms, 0.99)

    @property
    def passes(self) -> bool:
        p99 = self.lag_p99_ms
        return (
            p99 is not None
            and p99 < MAX_LAG_MS
            and self.accepted_per_s >= MIN_ACCEPTED_SHARE * self.rate
        )

    def summary(self) -> dict[str, Any]:
        return {
            "rate_per_s": self.rate,
            "sent": self.sent,
            "accepted": self.accepted,
            "accepted_per_s": round(self.accepted_per_s, 1),
            "reply_p50_ms": _ms(percentile(self.reply_ms, 0.5)),
            "reply_p99_ms": _ms(percentile(self.reply_ms, 0.99)),
            "lag_p50_ms": _ms(percentile(self.lag_ms, 0.5)),
            "lag_p99_ms": _ms(self.lag_p99_ms),
            "lag_max_ms": _ms(max(self.lag_ms, default=None)),
            "refused": self.refused,
            "errors": self.errors,
            "no_event": self.no_event,
            "not_connected": self.not_connected,
            "peak_channels": self.peak_channels,
            "cpu_percent": self.cpu,
            "passes": self.passes,
        }


def max_passing_rate(steps: Sequence[StepFigures]) -> float:
    """The highest rate that passed, every lower rate having passed too (0 if none)."""
    best = 0.0
    for step in sorted(steps, key=lambda s: s.rate):
        if not step.passes:
            break
        best = step.rate
    return best


# ---------------------------------------------------------------------- CPU


def process_ticks(pid: int) -> int:
    """User + system clock ticks of a process, all its threads included."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat.rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU shares (percent of one core) of named process groups over an interval."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self._start: dict[str, int] = {}
        self._machine = (0, 0)
        self._at = 0.0

    def start(self) -> None:
        self._start = {name: sum(map(process_ticks, pids)) for name, pids in self.groups.items()}
        self._machine = machine_ticks()
        self._at = time.monotonic()

    def read(self) -> dict[str, float]:
        wall = max(time.monotonic() - self._at, 1e-9)
        shares = {
            name: round(
                100 * (sum(map(process_ticks, pids)) - self._start[name]) / CLOCK_TICKS / wall, 1
            )
            for name, pids in self.groups.items()
        }
        busy, total = machine_ticks()
        spent = max(total - self._machine[1], 1)
        shares["machine_busy_of_all_cores"] = round(100 * (busy - self._machine[0]) / spent, 1)
        return shares


# ------------------------------------------------------------------- events


class EventWatch:
    """Consumes the link's events: when each tagged call first appeared, how it ended.

    A probe reads raw AMI headers (the product leaves that to the translator):
    it needs VarSet, which the translator has no use for.
    """

    def __init__(self) -> None:
        self.first_event_at: dict[str, float] = {}  # tag -> perf_counter
        self.originate_result: dict[str, str] = {}  # ActionID -> Response
        self.live_channels = 0
        self.peak_channels = 0
        self._newchannel_at: dict[str, float] = {}  # Uniqueid -> perf_counter
        self._changed = asyncio.Event()

    async def consume(self, link: AmiLink) -> None:
        async for message in link.events():
            now = time.perf_counter()
            event = message.get("Event")
            if event == "Newchannel":
                self._newchannel_at[message.get("Uniqueid", "")] = now
                self.live_channels += 1
                self.peak_channels = max(self.peak_channels, self.live_channels)
            elif event == "Hangup":
                self.live_channels -= 1
                self._newchannel_at.pop(message.get("Uniqueid", ""), None)
            elif event == "VarSet" and message.get("Variable") == TAG:
                seen = self._newchannel_at.get(message.get("Uniqueid", ""), now)
                self.first_event_at.setdefault(message.get("Value", ""), seen)
            elif event == "OriginateResponse":
                self.originate_result[message.get("ActionID", "")] = message.get("Response", "")
            self._changed.set()

    async def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``condition()`` holds after some event, or ``timeout`` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            self._changed.clear()
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return condition()
        return True

    def reset_peak(self) -> None:
        self.peak_channels = self.live_channels


# --------------------------------------------------------------------- load


@dataclass
class _Sent:
    at: float
    replied_at: float | None = None
    action_id: str | None = None
    outcome: str = "pending"  # accepted, refused, error


async def _originate(
    telephony: AmiTelephony, tag: str, endpoint: str, sent: _Sent, reply_timeout: float
) -> None:
    request = OriginateRequest(
        endpoint=f"op{endpoint}", number=CUSTOMER, variables={TAG: tag}, timeout_seconds=10
    )
    try:
        accepted = await asyncio.wait_for(telephony.originate(request), reply_timeout)
    except TelephonyError:
        sent.outcome = "refused"
    except (ConnectionError, TimeoutError):
        sent.outcome = "error"
    else:
        sent.outcome = "accepted"
        sent.action_id = accepted.request_id
    sent.replied_at = time.perf_counter()


async def run_step(
    telephony: AmiTelephony,
    watch: EventWatch,
    cpu: CpuMeter,
    *,
    rate: float,
    seconds: float,
    settle_seconds: float = 5.0,
    drain_seconds: float = 30.0,
) -> StepFigures:
    """Send ``rate`` Originates per second for ``seconds``; wait for their events and calls."""
    loop = asyncio.get_running_loop()
    count = max(round(rate * seconds), 1)
    prefix = f"r{rate:g}-{time.monotonic_ns()}"
    sent: dict[str, _Sent] = {}
    watch.reset_peak()
    cpu.start()
    begin = loop.time()
    tasks = []
    for i in range(count):
        delay = begin + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tag = f"{prefix}-{i}"
        sent[tag] = _Sent(at=time.perf_counter())
        endpoint = OPERATORS[i % len(OPERATORS)]
        tasks.append(asyncio.create_task(_originate(telephony, tag, endpoint, sent[tag], 10.0)))
    await asyncio.gather(*tasks)
    cpu_figures = cpu.read()  # the sending phase only: that is where the load is
    # the last events may still be on their way
    await watch.wait_until(
        lambda: all(
            tag in watch.first_event_at for tag, s in sent.items() if s.outcome == "accepted"
        ),
        settle_seconds,
    )
    peak = watch.peak_channels
    await watch.wait_until(lambda: watch.live_channels <= 0, drain_seconds)

    accepted = [s for s in sent.values() if s.outcome == "accepted"]
    first_send = min(s.at for s in sent.values())
    last_reply = max((s.replied_at or s.at) for s in accepted) if accepted else first_send
    # n sends on schedule take (n - 1) / rate; one more interval makes n / rate
    span = max(last_reply - first_send, (count - 1) / rate) + 1 / rate
    lags = [
        (watch.first_event_at[tag] - s.at) * 1000 if tag in watch.first_event_at else math.inf
        for tag, s in sent.items()
    ]
    results = [watch.originate_result.get(s.action_id or "") for s in accepted]
    return StepFigures(
        rate=rate,
        sent=count,
        accepted=len(accepted),
        accepted_per_s=len(accepted) / span,
        reply_ms=[((s.replied_at or s.at) - s.at) * 1000 for s in accepted],
        lag_ms=lags,
        refused=sum(s.outcome == "refused" for s in sent.values()),
        errors=sum(s.outcome == "error" for s in sent.values()),
        no_event=sum(
            1
            for tag, s in sent.items()
            if s.outcome == "accepted" and tag not in watch.first_event_at
        ),
        not_connected=sum(1 for r in results if r != "Success"),
        peak_channels=peak,
        cpu=cpu_figures,
    )


@dataclass
class Measurement:
    steps: list[StepFigures]
    dropped_events: int  # events the link's queue had no room for (should be 0)


async def measure(args: argparse.Namespace, work: Path) -> Measurement:
    """Start the phones and the link, then run the rate steps of ``args`` in turn."""
    phones = [
        Phone.operator(ext, work, ring_ms=args.ring_ms, talk_ms=args.talk_ms + 5000)
        for ext in OPERATORS
    ]
    phones.append(Phone.customers(work, ring_ms=args.ring_ms, talk_ms=args.talk_ms))
    link = AmiLink(
        sandbox.AMI_HOST,
        sandbox.AMI_PORT,
        "callcenter",
        Secret(args.ami_secret),
        queue_size=1_000_000,
    )
    telephony = AmiTelephony(link, originate_context="dialer-outbound")
    watch = EventWatch()
    steps: list[StepFigures] = []
    try:
        for phone in phones:
            phone.start()
        await link.start()
        await link.wait_connected(10)
        consumer = asyncio.create_task(watch.consume(link), name="bench-events")
        try:
            status = sandbox.sandbox_status()
            cpu = CpuMeter(
                {
                    "asterisk": [status.pid] if status.pid else [],
                    "sipp": [p.pid for p in phones if p.pid],
                    "bench": [os.getpid()],
                }
            )
            for rate in args.rates:
                step = await run_step(telephony, watch, cpu, rate=rate, seconds=args.seconds)
                steps.append(step)
                _print_row(step)
                if not step.passes and not args.keep_going:
                    break
        finally:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
    finally:
        await link.stop()
        for phone in phones:
            phone.stop()
        await asyncio.to_thread(sandbox.hangup_all)
    return Measurement(steps, link.dropped_events)


_HEADER = (
    f"{'rate/s':>7} {'sent':>6} {'acc/s':>7} {'reply p99':>10} {'lag p50':>8} "
    f"{'lag p99':>8} {'fail':>5} {'noconn':>6} {'chans':>6} {'ast%':>5} {'sipp%':>6} "
    f"{'bench%':>6} {'host%':>6}  pass"
)


def _print_row(step: StepFigures) -> None:
    s = step.summary()
    fails = s["refused"] + s["errors"] + s["no_event"]

    def fig(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    print(
        f"{step.rate:>7g} {s['sent']:>6} {s['accepted_per_s']:>7} "
        f"{fig(percentile(step.reply_ms, 0.99)):>10} {fig(percentile(step.lag_ms, 0.5)):>8} "
        f"{fig(step.lag_p99_ms):>8} "
        f"{fails:>5} {s['not_connected']:>6} {s['peak_channels']:>6} "
        f"{step.cpu.get('asterisk', 0):>5} {step.cpu.get('sipp', 0):>6} "
        f"{step.cpu.get('bench', 0):>6} {step.cpu.get('machine_busy_of_all_cores', 0):>6}  "
        f"{'yes' if step.passes else 'NO'}",
        flush=True,
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench originate_rate")
    parser.add_argument(
        "--rates",
        type=lambda text: [float(r) for r in text.split(",")],
        default=[10.0, 25.0, 50.0, 75.0, 100.0],
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="per rate")
    parser.add_argument("--ring-ms", type=int, default=200, help="operators and customers")
    parser.add_argument("--talk-ms", type=int, default=1000, help="customers hang up after")
    parser.add_argument(
        "--keep-going", action="store_true", help="go on to higher rates after a failing one"
    )
    parser.add_argument("--ami-secret", default="callcenter-sandbox")
    return parser.parse_args(argv)


def run(argv: list[str]) -> dict[str, Any]:
    args = parse_args(argv)
    if shutil.which("sipp") is None:
        raise SystemExit("sipp is not installed: apt-get install sip-tester")
    started_here = not sandbox.sandbox_status().running
    if started_here:
        sandbox.sandbox_up(timeout=60)
    sandbox.hangup_all()
    work = Path(tempfile.mkdtemp(prefix="cc-bench-originate-"))
    try:
        print(_HEADER, flush=True)
        measured = asyncio.run(measure(args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if started_here:
            sandbox.sandbox_down()
    return {
        "parameters": {
            "rates_per_s": args.rates,
            "seconds_per_rate": args.seconds,
            "ring_ms": args.ring_ms,
            "talk_ms": args.talk_ms,
            "operators": len(OPERATORS),
            "cpus": os.cpu_count(),
        },
        "steps": [step.summary() for step in measured.steps],
        "dropped_events": measured.dropped_events,
        "max_rate_with_lag_under_1s": max_passing_rate(measured.steps),
        "target": TARGET_RATE,
    }
