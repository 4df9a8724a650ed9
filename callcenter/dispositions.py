"""The call results operators pick from, as an admin keeps them.

A code is fixed once created (reports, the dialer and integrations refer to it); the
labels, the order and "needs a callback" may change. Results are deactivated rather
than deleted: old calls keep theirs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.form_errors import FormInvalid, Problems, checkbox, labels, text_field
from callcenter.models import Disposition

CODE = re.compile(r"^[a-z0-9_]{1,63}$")


@dataclass(frozen=True)
class DispositionForm:
    label_ru: str
    label_en: str | None
    needs_callback: bool


def read_form(raw: Mapping[str, str]) -> DispositionForm:
    problems = Problems()
    label_ru, label_en = labels(raw, problems)
    problems.raise_any()
    return DispositionForm(label_ru, label_en or None, checkbox(raw, "needs_callback"))


async def all_dispositions(session: AsyncSession) -> list[Disposition]:
    return list(
        await session.scalars(
            select(Disposition).order_by(
                Disposition.is_active.desc(), Disposition.position, Disposition.id
            )
        )
    )


async def add_disposition(session: AsyncSession, raw: Mapping[str, str]) -> Disposition:
    """A new call result from the form: code, labels, needs_callback."""
    problems = Problems()
    code = text_field(raw, "code", 100)
    if not CODE.match(code):
        problems.add("code", "Lower-case Latin letters, digits and _ only, e.g. callback_later.")
    elif await session.scalar(select(Disposition.id).where(Disposition.code == code)):
        problems.add("code", "This code is taken.")
    try:
        form = read_form(raw)
    except FormInvalid as exc:
        problems.found.update(exc.problems)
    problems.raise_any()
    last = await session.scalar(select(func.max(Disposition.position)))
    disposition = Disposition(
        code=code,
        label_ru=form.label_ru,
        label_en=form.label_en,
        needs_callback=form.needs_callback,
        position=(last or 0) + 1,
    )
    session.add(disposition)
    await session.flush()
    return disposition


def apply_form(disposition: Disposition, form: DispositionForm) -> None:
    disposition.label_ru = form.label_ru
    disposition.label_en = form.label_en
    disposition.needs_callback = form.needs_callback


async def move(session: AsyncSession, disposition: Disposition, step: int) -> None:
    """One place up (``step`` -1) or down (+1) among the active results."""
    ordered = [d for d in await all_dispositions(session) if d.is_active]
    if disposition not in ordered:
        return
    index = ordered.index(disposition)
    target = index + step
    if 0 <= target < len(ordered):
        ordered[index], ordered[target] = ordered[target], ordered[index]
    # renumbered as a whole: positions seeded or imported may repeat
    for position, item in enumerate(ordered, start=1):
        item.position = position
    await session.flush()
