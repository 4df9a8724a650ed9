"""After-call work: the operator's result, note and next step, saved to the call and timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.form_errors import FormInvalid
from callcenter.models import Call, Disposition, Interaction, Task, User

MAX_NOTE = 4000
STAFF_WHO_MAY_WRAP_UP_ANY_CALL = {"supervisor", "manager", "admin"}


class WrapUpError(FormInvalid):
    """The after-call form is wrong; nothing was stored."""


class CallNotLogged(LookupError):
    """The call is not in the log (yet): the writer may be a moment behind."""


@dataclass(frozen=True)
class WrapUp:
    disposition: str | None
    note: str
    next_step: str
    callback_at: datetime | None


def parse_wrapup(body: object) -> WrapUp:
    """Check what the form sent; every problem is reported by field name."""
    if not isinstance(body, dict):
        raise WrapUpError({"body": "expected a JSON object"})
    errors: dict[str, str] = {}
    disposition = body.get("disposition") or None
    if disposition is not None and not isinstance(disposition, str):
        errors["disposition"] = "must be a disposition code"
    note = body.get("note") or ""
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        errors["note"] = f"must be text of at most {MAX_NOTE} characters"
    next_step = body.get("next_step") or ""
    if not isinstance(next_step, str) or len(next_step) > 500:
        errors["next_step"] = "must be text of at most 500 characters"
    callback_at = None
    if body.get("callback_at"):
        try:
            callback_at = datetime.fromisoformat(str(body["callback_at"]))
        except ValueError:
            errors["callback_at"] = "must be a date and time (ISO 8601)"
        else:
            if callback_at.tzinfo is None:
                errors["callback_at"] = "must include a time zone offset"
    if errors:
        raise WrapUpError(errors)
    return WrapUp(disposition, str(note).strip(), str(next_step).strip(), callback_at)


async def save_wrapup(session: AsyncSession, user: User, linkedid: str, wrapup: WrapUp) -> Call:
    call = (
        await session.execute(select(Call).where(Call.linkedid == linkedid).with_for_update())
    ).scalar_one_or_none()
    if call is None:
        raise CallNotLogged(linkedid)
    if call.answered_by_id != user.id and user.role not in STAFF_WHO_MAY_WRAP_UP_ANY_CALL:
        raise PermissionError("only the operator who took the call may wrap it up")
    if wrapup.disposition is not None:
        disposition = (
            await session.execute(
                select(Disposition).where(
                    Disposition.code == wrapup.disposition, Disposition.is_active.is_(True)
                )
            )
        ).scalar_one_or_none()
        if disposition is None:
            raise WrapUpError({"disposition": "unknown disposition"})
        call.disposition_id = disposition.id
    if wrapup.note:
        call.note = wrapup.note
    if call.contact_id is not None and (wrapup.note or wrapup.next_step):
        call_entry = await session.scalar(
            select(Interaction.id).where(Interaction.call_id == call.id, Interaction.kind == "call")
        )
        session.add(
            Interaction(
                contact_id=call.contact_id,
                kind="note",
                author_id=user.id,
                call_id=call.id,
                summary=wrapup.note or wrapup.next_step,
                payload={"next_step": wrapup.next_step} if wrapup.next_step else {},
                previous_interaction_id=call_entry,
            )
        )
    if wrapup.callback_at is not None:
        session.add(
            Task(
                kind="callback",
                title=wrapup.next_step or "Перезвонить",
                notes=wrapup.note or None,
                contact_id=call.contact_id,
                call_id=call.id,
                assignee_id=user.id,
                created_by_id=user.id,
                due_at=wrapup.callback_at,
                remind_at=wrapup.callback_at,
            )
        )
    await session.flush()
    return call
