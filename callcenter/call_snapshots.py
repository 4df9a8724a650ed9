"""A call snapshot (``TrackedCall`` and its legs) as one line of JSON, and back.

The call log's backlog spills snapshots to disk while the database is away and
reads them back later: what comes back must be the very snapshot that went out,
to the microsecond and the time zone, or the upsert would write a different call.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from callcenter.tracking import LegSnapshot, TrackedCall

_CALL_TIMES = ("started_at", "answered_at", "ended_at")
_LEG_TIMES = ("rang_at", "answered_at", "ended_at")


class BadSnapshot(ValueError):
    """A line that is not a snapshot (cut short by a crash, or from another version)."""


def encode(call: TrackedCall) -> bytes:
    """One line, ending in a newline; no newline inside (JSON escapes them)."""
    record: dict[str, Any] = {
        "linkedid": call.linkedid,
        "direction": call.direction,
        "started_at": call.started_at.isoformat(),
        "caller_number": call.caller_number,
        "caller_name": call.caller_name,
        "did": call.did,
        "queue": call.queue,
        "rang_devices": list(call.rang_devices),
        "ringing_devices": list(call.ringing_devices),
        "answered_device": call.answered_device,
        "answered_at": _time(call.answered_at),
        "ended_at": _time(call.ended_at),
        "result": call.result,
        "hangup_cause": call.hangup_cause,
        "legs": [_leg(leg) for leg in call.legs],
        "variables": call.variables,
    }
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> TrackedCall:
    """The snapshot ``encode`` wrote; ``BadSnapshot`` for anything else."""
    try:
        record = json.loads(line)
        for name in _CALL_TIMES:
            record[name] = _parse_time(record[name])
        record["rang_devices"] = tuple(record["rang_devices"])
        record["ringing_devices"] = tuple(record["ringing_devices"])
        legs = []
        for leg in record["legs"]:
            for name in _LEG_TIMES:
                leg[name] = _parse_time(leg[name])
            legs.append(LegSnapshot(**leg))
        record["legs"] = tuple(legs)
        call = TrackedCall(**record)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BadSnapshot(f"not a call snapshot: {exc}") from None
    if not isinstance(call.linkedid, str) or not isinstance(call.started_at, datetime):
        raise BadSnapshot("not a call snapshot: no linkedid or start")
    return call


def _leg(leg: LegSnapshot) -> dict[str, Any]:
    return {
        "uniqueid": leg.uniqueid,
        "channel": leg.channel,
        "device": leg.device,
        "kind": leg.kind,
        "rang_at": _time(leg.rang_at),
        "answered_at": _time(leg.answered_at),
        "ended_at": _time(leg.ended_at),
        "hangup_cause": leg.hangup_cause,
    }


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
