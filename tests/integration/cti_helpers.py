"""Shared set-up for the inbound-call tests: a known client, operators, snapshots."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.link import AmiLink
from callcenter.app.inbound import InboundPipeline
from callcenter.models import (
    Company,
    Contact,
    ContactPhone,
    Deal,
    Interaction,
    PipelineStage,
    Task,
    User,
)
from callcenter.settings import Secret
from callcenter.tracking import LegSnapshot, TrackedCall
from callcenter.users import add_user

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@dataclass
class World:
    operators: dict[str, User] = field(default_factory=dict)
    contact_id: int = 0


async def make_world(db: async_sessionmaker[AsyncSession]) -> World:
    world = World()
    async with db() as session:
        for ext, name in (("101", "Анна Смирнова"), ("102", "Дмитрий Кузнецов")):
            world.operators[ext] = await add_user(
                session,
                login=f"op{ext}",
                full_name=name,
                role="operator",
                password="correct-horse",
                extension=ext,
                device=f"PJSIP/op{ext}",
            )
        company = Company(name="ООО «Ромашка»")
        session.add(company)
        await session.flush()
        contact = Contact(
            first_name="Иван",
            last_name="Петров",
            company_id=company.id,
            manager_id=world.operators["102"].id,
            status="client",
        )
        session.add(contact)
        await session.flush()
        session.add(
            ContactPhone(contact_id=contact.id, raw="8 (495) 123-45-67", e164="+74951234567")
        )
        # a default stage (migration 0004); a bare schema gets its own
        stage = (
            await session.execute(select(PipelineStage).where(PipelineStage.name == "Переговоры"))
        ).scalar_one_or_none()
        if stage is None:
            stage = PipelineStage(name="Переговоры", position=1)
            session.add(stage)
            await session.flush()
        session.add_all(
            [
                Interaction(
                    contact_id=contact.id, kind="note", occurred_at=T0, summary="Просил счёт"
                ),
                Task(kind="todo", title="Отправить КП", contact_id=contact.id),
                Deal(contact_id=contact.id, title="Поставка окон", stage_id=stage.id),
            ]
        )
        await session.commit()
        world.contact_id = contact.id
    return world


def queue_call(
    linkedid: str = "1700000000.1", number: str = "84951234567", **changes: Any
) -> TrackedCall:
    call = TrackedCall(
        linkedid=linkedid,
        direction="inbound",
        started_at=T0,
        caller_number=number,
        caller_name="Ivan",
        did="74951112233",
        queue="support",
        legs=(LegSnapshot(linkedid, "PJSIP/trunk-00000001", None, "caller", rang_at=T0),),
    )
    return replace(call, **changes)


def answered(call: TrackedCall, device: str = "PJSIP/op101", after: float = 5) -> TrackedCall:
    at = call.started_at + timedelta(seconds=after)
    leg = LegSnapshot(
        call.linkedid + "1",
        device + "-00000002",
        device,
        "agent",
        rang_at=call.started_at,
        answered_at=at,
    )
    return replace(
        call,
        rang_devices=(device,),
        answered_device=device,
        answered_at=at,
        result="in_progress",
        legs=(*call.legs, leg),
    )


def ended(call: TrackedCall, after: float = 65, result: str = "answered") -> TrackedCall:
    return replace(call, ended_at=call.started_at + timedelta(seconds=after), result=result)  # type: ignore[arg-type]


class RecordingNotifier:
    def __init__(self) -> None:
        self.messages: list[tuple[tuple[int, ...], str, dict[str, Any]]] = []
        self._arrived = asyncio.Event()

    def publish(self, user_ids: Any, type_: str, payload: dict[str, Any]) -> None:
        self.messages.append((tuple(user_ids), type_, payload))
        self._arrived.set()

    async def wait_for(self, type_: str, count: int = 1, timeout: float = 5) -> None:
        async with asyncio.timeout(timeout):
            while len(self.of_type(type_)) < count:
                self._arrived.clear()
                await self._arrived.wait()

    def of_type(self, type_: str) -> list[tuple[tuple[int, ...], dict[str, Any]]]:
        return [(users, payload) for users, t, payload in self.messages if t == type_]


@asynccontextmanager
async def running_pipeline(
    db: async_sessionmaker[AsyncSession], ami_port: int
) -> AsyncIterator[tuple[InboundPipeline, AmiLink, RecordingNotifier]]:
    """The inbound pipeline as ``serve`` runs it, on the sandbox's AMI, without the web part."""
    notifier = RecordingNotifier()
    inbound = InboundPipeline(db, notifier, region="RU")
    secret = Secret("callcenter-sandbox")
    link = AmiLink("127.0.0.1", ami_port, "callcenter", secret, on_resync=inbound.resync)
    await link.start()
    listener = asyncio.create_task(inbound.run(link))
    try:
        await link.wait_connected(10)
        yield inbound, link, notifier
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await link.stop()


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition``; ``what`` names it in the failure."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():  # noqa: ASYNC110 - polling plain state, nothing to await
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"no {what} within {timeout} s") from None
