"""The admin's form of the center settings: read, check every field, then save them all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import center_settings
from callcenter.center_settings import CenterSettings
from callcenter.form_errors import Problems, checkbox, text_field

# the bounds center_settings enforces, told to the admin before it refuses
LIMITS: dict[str, tuple[int, int]] = center_settings._LIMITS


def read_settings_form(raw: Mapping[str, str]) -> dict[str, Any]:
    problems = Problems()
    values: dict[str, Any] = {}
    defaults = CenterSettings()
    for setting in fields(CenterSettings):
        name = setting.name
        if isinstance(getattr(defaults, name), bool):
            values[name] = checkbox(raw, name)
            continue
        low, high = LIMITS[name]
        typed = text_field(raw, name, 20)
        if typed.isdigit() and low <= int(typed) <= high:
            values[name] = int(typed)
        else:
            problems.add(
                name, "A whole number from %(low)s to %(high)s.", low=str(low), high=str(high)
            )
    problems.raise_any()
    return values


async def save_settings_form(
    session: AsyncSession, raw: Mapping[str, str], by_user_id: int
) -> dict[str, Any]:
    """Every setting saved, or (``FormInvalid``) none of them; returns what changed."""
    values = read_settings_form(raw)
    before = await center_settings.load(session)
    changed = {name: v for name, v in values.items() if getattr(before, name) != v}
    for name, value in values.items():
        await center_settings.save(session, name, value, by_user_id)
    return changed
