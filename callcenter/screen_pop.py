"""Screen-pops: the operator whose phone rings learns who calls before answering.

Each call gets its own little pipeline (a queue and a task), so one call's slow
lookup never delays another call's pop, while the messages of one call keep their
order. The lookup starts when the call starts, usually well before any phone
rings; a pop waits for it at most ``deadline`` seconds, then goes out as "unknown"
and is followed by ``call.updated`` when the lookup finishes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.devices import DeviceDirectory
from callcenter.dialer_calls import DialerCall, campaign_pop, dialer_call
from callcenter.lookup import Lookup, lookup_caller
from callcenter.notify import Notifier
from callcenter.tracking import TrackedCall

log = logging.getLogger(__name__)

LOOKUP_DEADLINE_SECONDS = 0.25
# a lookup that misses the deadline may still finish (and update the pop) within this
LATE_LOOKUP_SECONDS = 10.0
# what Asterisk and carriers show for a caller without a name or a number
_WITHHELD = {"", "<unknown>", "unknown", "anonymous", "restricted", "unavailable", "private"}


def _shown(value: str) -> str:
    return "" if value.strip().lower() in _WITHHELD else value


def call_payload(call: TrackedCall) -> dict[str, Any]:
    return {
        "linkedid": call.linkedid,
        "direction": call.direction,
        "caller_number": _shown(call.caller_number),
        "caller_name": _shown(call.caller_name),
        "did": call.did,
        "queue": call.queue,
        "started_at": call.started_at.isoformat(),
    }


def lookup_payload(found: Lookup) -> dict[str, Any]:
    return {
        "e164": found.e164,
        "lookup": "known" if found.known else "pending" if found.timed_out else "unknown",
        "client": found.card.as_json() if found.card else None,
    }


def _not_yet(call: TrackedCall) -> Lookup:
    return Lookup(call.caller_number, None, timed_out=True)


Step = Callable[[], Awaitable[None]]


class _CallPipeline:
    def __init__(self) -> None:
        self.steps: asyncio.Queue[Step | None] = asyncio.Queue()
        self.lookup: asyncio.Task[Lookup] | None = None
        self.number = ""  # the number being looked up
        # earlier lookups of a number that changed: a step may still await one
        self.superseded: list[asyncio.Task[Lookup]] = []
        self.popped_users: set[int] = set()
        self.shown: dict[str, dict[str, Any]] = {}  # device (lower case) -> the pop it got
        self.task: asyncio.Task[None] | None = None


class ScreenPops:
    """A ``CallObserver`` that turns ringing devices into pops for their operators."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        devices: DeviceDirectory,
        notifier: Notifier,
        *,
        region: str,
        deadline: float = LOOKUP_DEADLINE_SECONDS,
    ) -> None:
        self._db = db
        self._devices = devices
        self._notifier = notifier
        self._region = region
        self._deadline = deadline
        self._calls: dict[str, _CallPipeline] = {}

    # -- CallObserver ------------------------------------------------------------
    def call_started(self, call: TrackedCall) -> None:
        self._pipeline(call)

    def device_ringing(self, call: TrackedCall, device: str) -> None:
        self._enqueue(call, lambda: self._ringing(call, device))

    def device_stopped_ringing(self, call: TrackedCall, device: str) -> None:
        self._enqueue(call, lambda: self._withdraw(call, device))

    def call_answered(self, call: TrackedCall, device: str) -> None:
        self._enqueue(call, lambda: self._answered(call, device))

    def call_ended(self, call: TrackedCall) -> None:
        pipeline = self._calls.get(call.linkedid)
        if pipeline is None:
            return
        self._enqueue(call, lambda: self._ended(call))
        pipeline.steps.put_nowait(None)  # the pipeline ends after this call's last step
        del self._calls[call.linkedid]

    def current_pop(self, call: TrackedCall, device: str) -> dict[str, Any]:
        """The pop of ``call`` for the operator of ``device``: as it was last sent, or
        (not sent yet, or sent by a server before a restart) with what is known now."""
        pipeline = self._calls.get(call.linkedid)
        if pipeline is None:
            return {**call_payload(call), **lookup_payload(_not_yet(call)), "device": device}
        shown = pipeline.shown.get(device.lower())
        if shown is not None:
            return shown
        lookup, found = pipeline.lookup, _not_yet(call)
        if lookup is not None and lookup.done() and not lookup.cancelled():
            found = found if lookup.exception() is not None else lookup.result()
        return {**call_payload(call), **lookup_payload(found), "device": device}

    # -- lifecycle -----------------------------------------------------------------
    async def close(self) -> None:
        tasks = []
        for pipeline in self._calls.values():
            for task in (pipeline.task, pipeline.lookup, *pipeline.superseded):
                if task is not None:
                    task.cancel()
                    tasks.append(task)
        self._calls.clear()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _pipeline(self, call: TrackedCall) -> _CallPipeline:
        pipeline = self._calls.get(call.linkedid)
        if pipeline is None:
            pipeline = self._calls[call.linkedid] = _CallPipeline()
            self._look_up(pipeline, call)
            pipeline.task = asyncio.create_task(self._run(pipeline), name=f"pop-{call.linkedid}")
        elif call.caller_number != pipeline.number:
            # a dialer call's number is known only from its second event on
            if pipeline.lookup is not None:
                pipeline.superseded.append(pipeline.lookup)
            self._look_up(pipeline, call)
        return pipeline

    def _look_up(self, pipeline: _CallPipeline, call: TrackedCall) -> None:
        pipeline.number = call.caller_number
        pipeline.lookup = asyncio.create_task(
            lookup_caller(self._db, call.caller_number, self._region, deadline=LATE_LOOKUP_SECONDS),
            name=f"lookup-{call.linkedid}",
        )

    def _enqueue(self, call: TrackedCall, step: Step) -> None:
        self._pipeline(call).steps.put_nowait(step)

    async def _run(self, pipeline: _CallPipeline) -> None:
        try:
            while (step := await pipeline.steps.get()) is not None:
                try:
                    await step()
                except Exception:
                    log.exception("screen-pop step failed")
        finally:
            for lookup in (pipeline.lookup, *pipeline.superseded):
                if lookup is not None and not lookup.done():
                    lookup.cancel()

    # -- steps -------------------------------------------------------------------------
    async def _lookup_within_deadline(self, pipeline: _CallPipeline, call: TrackedCall) -> Lookup:
        assert pipeline.lookup is not None
        # not wait_for: on Python 3.11 it returns the result, and swallows a cancel, when
        # the lookup ends at the moment the pipeline is cancelled; close() then waited
        # for good on a task that went on to its next step
        try:
            async with asyncio.timeout(self._deadline):
                return await asyncio.shield(pipeline.lookup)
        except TimeoutError:
            return _not_yet(call)

    async def _ringing(self, call: TrackedCall, device: str) -> None:
        operator = await self._devices.operator(device)
        pipeline = self._calls.get(call.linkedid)
        if operator is None or pipeline is None:
            return
        found = await self._lookup_within_deadline(pipeline, call)
        pipeline.popped_users.add(operator.user_id)
        payload = {**call_payload(call), **lookup_payload(found), "device": device}
        dialled = dialer_call(call.variables)
        if dialled is not None:
            # the dialer's call rings an operator only once the client has answered
            payload["campaign"] = await self._campaign(dialled, operator.full_name)
        pipeline.shown[device.lower()] = payload
        self._notifier.publish([operator.user_id], "call.ringing", payload)
        if found.timed_out:
            self._enqueue(call, lambda: self._late_lookup(call, operator.user_id, device))

    async def _campaign(self, dialled: DialerCall, operator_name: str) -> dict[str, Any] | None:
        try:
            async with self._db() as session:
                return await campaign_pop(session, dialled, operator_name)
        except Exception:
            log.exception("campaign of a dialer call not read; popped without it")
            return None

    async def _late_lookup(self, call: TrackedCall, user_id: int, device: str) -> None:
        pipeline = self._calls.get(call.linkedid)
        if pipeline is None or pipeline.lookup is None:
            return
        found = await asyncio.shield(pipeline.lookup)
        payload = {**call_payload(call), **lookup_payload(found)}
        shown = pipeline.shown.get(device.lower())
        if shown is not None:
            pipeline.shown[device.lower()] = {**shown, **payload}
        self._notifier.publish([user_id], "call.updated", payload)

    async def _withdraw(self, call: TrackedCall, device: str) -> None:
        operator = await self._devices.operator(device)
        if operator is not None:
            self._notifier.publish(
                [operator.user_id], "call.withdrawn", {"linkedid": call.linkedid}
            )

    async def _answered(self, call: TrackedCall, device: str) -> None:
        operator = await self._devices.operator(device)
        users = set(self._rang_users(call))
        if operator is not None:
            users.add(operator.user_id)
        payload = {
            "linkedid": call.linkedid,
            "device": device,
            "answered_by": operator.user_id if operator else None,
            "answered_by_name": operator.full_name if operator else None,
        }
        self._notifier.publish(sorted(users), "call.answered", payload)

    async def _ended(self, call: TrackedCall) -> None:
        payload = {
            **call_payload(call),
            "result": call.result,
            "answered_by": None,
            "talk_seconds": call.talk_seconds,
        }
        answered = self._devices.cached(call.answered_device) if call.answered_device else None
        if answered is not None:
            payload["answered_by"] = answered.user_id
        self._notifier.publish(sorted(self._rang_users(call)), "call.ended", payload)

    def _rang_users(self, call: TrackedCall) -> list[int]:
        users = []
        for device in (*call.rang_devices, call.answered_device):
            operator = self._devices.cached(device) if device else None
            if operator is not None:
                users.append(operator.user_id)
        return users
