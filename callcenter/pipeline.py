"""Setting up the funnel (admins): its stages and the refusal reasons to choose from.

Stages and reasons that deals have used stay in the database for their history: they
are deactivated, never deleted. A stage's kind (open, won, lost) is fixed while deals
sit in it, because it decides whether those deals are closed and need a reason.
"""

from __future__ import annotations

import enum

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit
from callcenter.funnel import FunnelError
from callcenter.models import Deal, DealStageChange, PipelineStage, RefusalReason, User

MAX_NAME = 100


class StageKind(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


def kind_of(stage: PipelineStage) -> StageKind:
    if stage.is_won:
        return StageKind.WON
    return StageKind.LOST if stage.is_lost else StageKind.OPEN


async def stages(session: AsyncSession, *, active_only: bool = False) -> list[PipelineStage]:
    query = select(PipelineStage).order_by(PipelineStage.position, PipelineStage.id)
    if active_only:
        query = query.where(PipelineStage.is_active)
    return list((await session.scalars(query)).all())


async def refusal_reasons(
    session: AsyncSession, *, active_only: bool = False
) -> list[RefusalReason]:
    query = select(RefusalReason).order_by(RefusalReason.name)
    if active_only:
        query = query.where(RefusalReason.is_active)
    return list((await session.scalars(query)).all())


async def deals_per_stage(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(select(Deal.stage_id, func.count()).group_by(Deal.stage_id))
    return {stage_id: count for stage_id, count in rows}


def _name(raw: object) -> str:
    name = " ".join(str(raw or "").split())
    if not name:
        raise FunnelError("Enter a name.", {"name": "Enter a name."})
    if len(name) > MAX_NAME:
        raise FunnelError("The name is too long.", {"name": "The name is too long."})
    return name


def _kind(raw: object) -> StageKind:
    try:
        return StageKind(str(raw or StageKind.OPEN.value))
    except ValueError:
        raise FunnelError("Not a valid choice.", {"kind": "Not a valid choice."}) from None


async def _unique(
    session: AsyncSession, model: type[PipelineStage | RefusalReason], name: str, own_id: int | None
) -> None:
    query = select(model.id).where(func.lower(model.name) == name.lower())
    if own_id is not None:
        query = query.where(model.id != own_id)
    if await session.scalar(query) is not None:
        raise FunnelError("This name is taken.", {"name": "This name is taken."})


async def _stage(session: AsyncSession, stage_id: int) -> PipelineStage:
    stage = await session.get(PipelineStage, stage_id, with_for_update=True)
    if stage is None:
        raise FunnelError("No such stage.")
    return stage


async def _holds_deals(session: AsyncSession, stage_id: int) -> bool:
    return (
        await session.scalar(select(Deal.id).where(Deal.stage_id == stage_id).limit(1)) is not None
    )


async def add_stage(session: AsyncSession, name: object, kind: object, by: User) -> PipelineStage:
    """A new stage at the end of the funnel."""
    clean, stage_kind = _name(name), _kind(kind)
    await _unique(session, PipelineStage, clean, None)
    last = await session.scalar(select(func.max(PipelineStage.position)))
    stage = PipelineStage(
        name=clean,
        position=(last if last is not None else -1) + 1,
        is_won=stage_kind is StageKind.WON,
        is_lost=stage_kind is StageKind.LOST,
    )
    session.add(stage)
    await session.flush()
    await audit.record(session, by, "pipeline_stage.add", "pipeline_stage", stage.id, name=clean)
    return stage


async def rename_stage(session: AsyncSession, stage_id: int, name: object, by: User) -> None:
    stage = await _stage(session, stage_id)
    clean = _name(name)
    await _unique(session, PipelineStage, clean, stage.id)
    await audit.record(
        session, by, "pipeline_stage.rename", "pipeline_stage", stage.id, old=stage.name, new=clean
    )
    stage.name = clean
    await session.flush()


async def set_stage_kind(session: AsyncSession, stage_id: int, kind: object, by: User) -> None:
    """Open, won or lost; refused while deals sit in the stage."""
    stage = await _stage(session, stage_id)
    new_kind = _kind(kind)
    if new_kind is kind_of(stage):
        return
    if await _holds_deals(session, stage.id):
        raise FunnelError(
            "Deals are in this stage: move them elsewhere before changing its kind.",
            {"kind": "Deals are in this stage."},
        )
    if stage.is_active and kind_of(stage) is StageKind.OPEN:
        await _keep_an_open_stage(session, stage.id)
    stage.is_won = new_kind is StageKind.WON
    stage.is_lost = new_kind is StageKind.LOST
    await audit.record(
        session, by, "pipeline_stage.kind", "pipeline_stage", stage.id, kind=new_kind.value
    )
    await session.flush()


async def _keep_an_open_stage(session: AsyncSession, leaving_id: int) -> None:
    """New deals start in an open stage, so the last active one must stay."""
    other = await session.scalar(
        select(PipelineStage.id).where(
            PipelineStage.is_active,
            ~PipelineStage.is_won,
            ~PipelineStage.is_lost,
            PipelineStage.id != leaving_id,
        )
    )
    if other is None:
        raise FunnelError("The funnel needs at least one active open stage.")


async def move_stage(session: AsyncSession, stage_id: int, step: int, by: User) -> None:
    """One place earlier (step -1) or later (+1) in the funnel's order."""
    ordered = await stages(session)
    index = next((i for i, s in enumerate(ordered) if s.id == stage_id), None)
    if index is None:
        raise FunnelError("No such stage.")
    target = index + (1 if step > 0 else -1)
    if not 0 <= target < len(ordered):
        return
    ordered[index], ordered[target] = ordered[target], ordered[index]
    # renumbered from 0, so equal positions left by hand-made rows sort out too
    for position, stage in enumerate(ordered):
        stage.position = position
    await audit.record(session, by, "pipeline_stage.reorder", "pipeline_stage", stage_id, step=step)
    await session.flush()


async def set_stage_active(session: AsyncSession, stage_id: int, active: bool, by: User) -> None:
    stage = await _stage(session, stage_id)
    if stage.is_active == active:
        return
    if not active and kind_of(stage) is StageKind.OPEN:
        await _keep_an_open_stage(session, stage.id)
    stage.is_active = active
    action = "pipeline_stage.activate" if active else "pipeline_stage.deactivate"
    await audit.record(session, by, action, "pipeline_stage", stage.id)
    await session.flush()


async def delete_stage(session: AsyncSession, stage_id: int, by: User) -> None:
    """Only a stage no deal has ever been in; any other is deactivated instead."""
    stage = await _stage(session, stage_id)
    used = await session.scalar(
        select(DealStageChange.id)
        .where(
            or_(DealStageChange.to_stage_id == stage.id, DealStageChange.from_stage_id == stage.id)
        )
        .limit(1)
    )
    if used is not None or await _holds_deals(session, stage.id):
        raise FunnelError("Deals have used this stage: deactivate it instead of deleting.")
    if stage.is_active and kind_of(stage) is StageKind.OPEN:
        await _keep_an_open_stage(session, stage.id)
    await audit.record(
        session, by, "pipeline_stage.delete", "pipeline_stage", stage.id, name=stage.name
    )
    await session.delete(stage)
    await session.flush()


async def add_reason(session: AsyncSession, name: object, by: User) -> RefusalReason:
    clean = _name(name)
    await _unique(session, RefusalReason, clean, None)
    reason = RefusalReason(name=clean)
    session.add(reason)
    await session.flush()
    await audit.record(session, by, "refusal_reason.add", "refusal_reason", reason.id, name=clean)
    return reason


async def _reason(session: AsyncSession, reason_id: int) -> RefusalReason:
    reason = await session.get(RefusalReason, reason_id, with_for_update=True)
    if reason is None:
        raise FunnelError("No such refusal reason.")
    return reason


async def rename_reason(session: AsyncSession, reason_id: int, name: object, by: User) -> None:
    reason = await _reason(session, reason_id)
    clean = _name(name)
    await _unique(session, RefusalReason, clean, reason.id)
    await audit.record(
        session,
        by,
        "refusal_reason.rename",
        "refusal_reason",
        reason.id,
        old=reason.name,
        new=clean,
    )
    reason.name = clean
    await session.flush()


async def set_reason_active(session: AsyncSession, reason_id: int, active: bool, by: User) -> None:
    """A deactivated reason stays on the deals that have it but is no longer offered."""
    reason = await _reason(session, reason_id)
    if reason.is_active == active:
        return
    reason.is_active = active
    action = "refusal_reason.activate" if active else "refusal_reason.deactivate"
    await audit.record(session, by, action, "refusal_reason", reason.id)
    await session.flush()
