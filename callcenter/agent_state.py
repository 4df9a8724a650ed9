"""Operators' Ready / Pause, as the queues see it."""

from __future__ import annotations

import re
from typing import Any

# offered in the console; the queue log keeps the chosen one (reports by reason)
PAUSE_REASONS = ("Обед", "Перерыв", "Обучение", "Обработка", "Другое")
MAX_REASON = 40
# the reason goes on one AMI line and into queue_log, whose fields '|' separates;
# the telephony adapter refuses these too, but that would be a 500, not a clear 400
_NOT_IN_REASON = re.compile(r'[\x00-\x1f\x7f-\x9f\u2028\u2029|<>"\\]')


class AgentStateError(ValueError):
    pass


def parse_state_change(body: object) -> tuple[bool, str]:
    """(paused, reason) from what the console sent."""
    if not isinstance(body, dict) or body.get("state") not in ("ready", "paused"):
        raise AgentStateError("state must be 'ready' or 'paused'")
    paused = body["state"] == "paused"
    reason = body.get("reason") or ""
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise AgentStateError(f"reason must be text of at most {MAX_REASON} characters")
    if _NOT_IN_REASON.search(reason):
        raise AgentStateError('reason must be one line of words, without | < > " or \\')
    return paused, (reason.strip() if paused else "")


def state_payload(device: str, paused: bool, reason: str, queue: str | None) -> dict[str, Any]:
    return {
        "device": device,
        "state": "paused" if paused else "ready",
        "reason": reason,
        "queue": queue,
    }
