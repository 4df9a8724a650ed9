"""The supervisors' live wallboard, kept in memory from the call events (never the database).

What it shows, each figure from where it is born:

- calls in progress and callers waiting per queue: the call tracker's live calls;
- each operator's state: talking or ringing (the tracker), wrap-up (the
  ``WRAP_UP_SECONDS`` after their call ended), paused with its reason and offline (the
  queues' member events), else ready;
- today's answered, abandoned and service level (answered within the center's SLA):
  counted as queue calls end, starting from the day's rows in the call log;
- campaign progress: today's dialled, picked-up and abandoned calls counted as the
  dialer settles its attempts (starting from the day's attempts), the lines ringing and
  talking from the dialer's own flights, and the leads left, which only the database
  knows, refreshed by the feed every ``SETTINGS_SECONDS`` with the center's settings.

Pure: times come in as arguments; ``WallboardPublisher`` (``web``) pushes ``snapshot``
to the supervisors' browsers whenever ``changed`` says something moved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.campaigns import PICKED_UP
from callcenter.devices import Operator
from callcenter.events import QueueMemberPaused, QueueMemberStateChanged
from callcenter.models import AttemptOutcome
from callcenter.queue_member import QueueMember
from callcenter.tracking import TrackedCall

WRAP_UP_SECONDS = 20.0
# a queue call that ended unanswered: the caller gave up waiting, whether or not an
# operator's phone rang meanwhile ("missed" in the call log)
UNANSWERED = ("abandoned", "missed")


@dataclass
class DayCounts:
    day: date
    answered: int = 0
    abandoned: int = 0
    within_sla: int = 0

    def as_json(self) -> dict[str, Any]:
        offered = self.answered + self.abandoned
        return {
            "day": self.day.isoformat(),
            "answered": self.answered,
            "abandoned": self.abandoned,
            "sla_percent": round(100 * self.within_sla / offered, 1) if offered else None,
        }


@dataclass
class CampaignDay:
    dialled: int = 0
    picked_up: int = 0  # the client answered: an operator talked to them, or nobody could
    abandoned: int = 0


@dataclass(frozen=True)
class CampaignInfo:
    name: str
    leads_left: int


@dataclass(frozen=True)
class CampaignLines:
    ringing: int = 0  # dialled, the client has not answered yet
    talking: int = 0  # an operator has the client


@dataclass(slots=True)
class _Member(QueueMember):
    since: datetime | None = None  # of the last change of paused/offline


@dataclass
class Wallboard:
    zone: ZoneInfo
    sla_seconds: int
    operators: list[Operator] = field(default_factory=list)
    today: DayCounts | None = None
    changed: bool = True
    _members: dict[str, _Member] = field(default_factory=dict)
    _wrapping: dict[str, datetime] = field(default_factory=dict)  # device -> call ended at
    _state_since: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    # the running and paused campaigns (the feed refreshes them) and today's figures
    campaigns: dict[int, CampaignInfo] = field(default_factory=dict)
    campaign_days: dict[int, CampaignDay] = field(default_factory=dict)
    _campaign_day: date | None = None

    # ------------------------------------------------------------ CallObserver

    def call_started(self, call: TrackedCall) -> None:
        self.changed = True

    def device_ringing(self, call: TrackedCall, device: str) -> None:
        self.changed = True

    def device_stopped_ringing(self, call: TrackedCall, device: str) -> None:
        self.changed = True

    def call_answered(self, call: TrackedCall, device: str) -> None:
        self.changed = True

    def call_ended(self, call: TrackedCall) -> None:
        self.changed = True
        ended = call.ended_at or call.started_at
        if call.answered_device:
            self._wrapping[call.answered_device.lower()] = ended
        if call.direction != "inbound" or not call.queue:
            return
        counts = self._counts(ended)
        if call.answered_at is not None:
            counts.answered += 1
            if (call.wait_seconds or 0) <= self.sla_seconds:
                counts.within_sla += 1
        elif call.result in UNANSWERED:
            counts.abandoned += 1

    # ------------------------------------------------------------ queue members

    def member_paused(self, event: QueueMemberPaused) -> None:
        if event.device is None:
            return
        member = self._members.setdefault(event.device.lower(), _Member())
        if member.take_pause(event):
            member.since, self.changed = event.at, True

    def member_state(self, event: QueueMemberStateChanged) -> None:
        if event.device is None:
            return
        member = self._members.setdefault(event.device.lower(), _Member())
        if member.take_state(event):
            member.since, self.changed = event.at, True

    # ------------------------------------------------------------ the dialer

    def attempt_settled(self, campaign_id: int, outcome: str, at: datetime) -> None:
        """A dialer attempt got its outcome (``DialerEngine.on_settled``)."""
        day = at.astimezone(self.zone).date()
        if self._campaign_day != day:
            self._campaign_day, self.campaign_days = day, {}
        figures = self.campaign_days.setdefault(campaign_id, CampaignDay())
        figures.dialled += 1
        figures.picked_up += outcome in PICKED_UP
        figures.abandoned += outcome == AttemptOutcome.ABANDONED
        self.changed = True

    def start_campaign_day(self, day: date, figures: dict[int, CampaignDay]) -> None:
        """Today's attempts so far, from the database (at start-up)."""
        self._campaign_day, self.campaign_days = day, figures
        self.changed = True

    def _campaign_rows(
        self, now: datetime, lines: dict[int, CampaignLines]
    ) -> list[dict[str, Any]]:
        # yesterday's figures stay until the first attempt of the new day replaces them
        today = self.campaign_days if self._campaign_day == now.astimezone(self.zone).date() else {}
        shown = set(self.campaigns) | set(today) | set(lines)
        rows = []
        for campaign_id in shown:
            info = self.campaigns.get(campaign_id)
            day = today.get(campaign_id, CampaignDay())
            live = lines.get(campaign_id, CampaignLines())
            rows.append(
                {
                    "id": campaign_id,
                    "name": info.name if info else None,
                    "dialled": day.dialled,
                    "picked_up": day.picked_up,
                    "abandoned": day.abandoned,
                    "abandon_percent": round(100 * day.abandoned / day.picked_up, 1)
                    if day.picked_up
                    else None,
                    "ringing": live.ringing,
                    "talking": live.talking,
                    "leads_left": info.leads_left if info else None,
                }
            )
        return sorted(rows, key=lambda row: (row["name"] is None, row["name"] or "", row["id"]))

    # ------------------------------------------------------------ the picture

    def start_day(self, counts: DayCounts) -> None:
        """Today's figures so far, from the call log (at start-up)."""
        self.today = counts
        self.changed = True

    def _counts(self, at: datetime) -> DayCounts:
        day = at.astimezone(self.zone).date()
        if self.today is None or self.today.day != day:
            self.today = DayCounts(day)
        return self.today

    def snapshot(
        self,
        now: datetime,
        live: Iterable[TrackedCall],
        lines: dict[int, CampaignLines] | None = None,
    ) -> dict[str, Any]:
        calls: list[dict[str, Any]] = []
        waiting: dict[str, dict[str, Any]] = {}
        talking: dict[str, TrackedCall] = {}
        ringing: dict[str, TrackedCall] = {}
        names = {op.device.lower(): op.full_name for op in self.operators}
        for call in live:
            if call.ended_at is not None:
                continue
            if call.answered_device:
                talking[call.answered_device.lower()] = call
            for device in call.ringing_devices:
                ringing[device.lower()] = call
            if call.answered_device is None and call.queue:
                queue = waiting.setdefault(call.queue, {"waiting": 0, "longest_since": None})
                queue["waiting"] += 1
                since = call.started_at.isoformat()
                if queue["longest_since"] is None or since < queue["longest_since"]:
                    queue["longest_since"] = since
            calls.append(
                {
                    "linkedid": call.linkedid,
                    "direction": call.direction,
                    "caller": call.caller_name or call.caller_number,
                    "queue": call.queue,
                    "since": (call.answered_at or call.started_at).isoformat(),
                    "state": "talking" if call.answered_device else "waiting",
                    "operator": names.get((call.answered_device or "").lower()),
                }
            )
        operators = [
            self._operator(op, now, talking, ringing)
            for op in sorted(self.operators, key=lambda o: o.full_name)
        ]
        return {
            "at": now.isoformat(),
            "calls": calls,
            "queues": dict(sorted(waiting.items())),
            "today": self._counts(now).as_json(),
            "sla_seconds": self.sla_seconds,
            "operators": operators,
            "campaigns": self._campaign_rows(now, lines or {}),
        }

    def _operator(
        self,
        op: Operator,
        now: datetime,
        talking: dict[str, TrackedCall],
        ringing: dict[str, TrackedCall],
    ) -> dict[str, Any]:
        device = op.device.lower()
        member = self._members.get(device, _Member())
        reason = ""
        wrapped = self._wrapping.get(device)
        if device in talking:
            state = "talking"
        elif device in ringing:
            state = "ringing"
        elif member.offline:
            state = "offline"
        elif wrapped is not None and now - wrapped < timedelta(seconds=WRAP_UP_SECONDS):
            state = "wrap_up"
        elif member.paused:
            state, reason = "paused", member.reason
        else:
            state = "ready"
        # time in state: from the first snapshot that saw it
        previous = self._state_since.get(device)
        if previous is None or previous[0] != state:
            self._state_since[device] = (state, now)
        return {
            "user_id": op.user_id,
            "name": op.full_name,
            "device": op.device,
            "state": state,
            "reason": reason,
            "since": self._state_since[device][1].isoformat(),
        }
