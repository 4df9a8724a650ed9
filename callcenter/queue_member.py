"""One phone's queue membership as the member events tell it: paused (with a reason),
offline, or neither. The wallboard and the operators' state log read it the same way."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.events import QueueMemberPaused, QueueMemberStateChanged

# Asterisk device states a queue member reports when its phone is not reachable
OFFLINE_DEVICE_STATES = frozenset({4, 5})  # AST_DEVICE_INVALID, AST_DEVICE_UNAVAILABLE


@dataclass(slots=True)
class QueueMember:
    paused: bool = False
    reason: str = ""
    offline: bool = False

    def take_pause(self, event: QueueMemberPaused) -> bool:
        """Apply a pause or unpause; True when paused or reason changed."""
        changed = (self.paused, self.reason) != (event.paused, event.reason)
        self.paused, self.reason = event.paused, event.reason
        return changed

    def take_state(self, event: QueueMemberStateChanged) -> bool:
        """Apply a device state report; True when offline or paused changed."""
        offline = event.status in OFFLINE_DEVICE_STATES
        if self.offline == offline and self.paused == event.paused:
            return False
        self.offline, self.paused = offline, event.paused
        if not event.paused:
            self.reason = ""
        return True
