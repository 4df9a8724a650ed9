"""Which calls ring or talk on each phone right now.

A console that (re)connects draws its pops from this, not only from the messages it
was sent: after a page load, a lost websocket or a restart of the server, a message
may never have reached it (or went out from a server that is gone), while the call
still rings. A ``CallObserver`` told by the tracker in event order; pure and sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from callcenter.tracking import TrackedCall

CallState = Literal["ringing", "talking"]


@dataclass(frozen=True, slots=True)
class DeviceCall:
    call: TrackedCall
    """The call as it was when this phone's part in it last changed."""
    device: str
    state: CallState


class DeviceCalls:
    def __init__(self) -> None:
        # devices in lower case: Asterisk keeps the dial plan's spelling of them
        self._by_device: dict[str, dict[str, DeviceCall]] = {}
        self._devices_of: dict[str, set[str]] = {}  # linkedid -> devices holding it

    def on(self, device: str) -> list[DeviceCall]:
        """This phone's calls, the oldest first."""
        calls = self._by_device.get(device.lower(), {}).values()
        return sorted(calls, key=lambda held: (held.call.started_at, held.call.linkedid))

    # -- CallObserver ------------------------------------------------------------
    def call_started(self, call: TrackedCall) -> None:
        pass

    def device_ringing(self, call: TrackedCall, device: str) -> None:
        self._hold(DeviceCall(call, device, "ringing"))

    def device_stopped_ringing(self, call: TrackedCall, device: str) -> None:
        held = self._by_device.get(device.lower(), {}).get(call.linkedid)
        if held is not None and held.state == "ringing":
            self._release(device.lower(), call.linkedid)

    def call_answered(self, call: TrackedCall, device: str) -> None:
        # the tracker says nothing of the answering phone's own ringing: it becomes a talk
        self._hold(DeviceCall(call, device, "talking"))

    def call_ended(self, call: TrackedCall) -> None:
        for device in list(self._devices_of.get(call.linkedid, ())):
            self._release(device, call.linkedid)

    # -- bookkeeping -------------------------------------------------------------
    def _hold(self, held: DeviceCall) -> None:
        device = held.device.lower()
        self._by_device.setdefault(device, {})[held.call.linkedid] = held
        self._devices_of.setdefault(held.call.linkedid, set()).add(device)

    def _release(self, device: str, linkedid: str) -> None:
        calls = self._by_device.get(device, {})
        calls.pop(linkedid, None)
        if not calls:
            self._by_device.pop(device, None)
        devices = self._devices_of.get(linkedid, set())
        devices.discard(device)
        if not devices:
            self._devices_of.pop(linkedid, None)
