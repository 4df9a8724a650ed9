"""The call center's own rules, edited by an admin in the console (table app_settings).

Start-up settings (database, AMI) live in callcenter.settings; these change while the
product runs, so they are read from the database when needed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.models import AppSetting


@dataclass(frozen=True)
class CenterSettings:
    # 152-FZ data minimisation: an operator may be limited to the clients they manage
    operators_see_own_clients_only: bool = False
    # "how was it?" call after a won deal
    follow_up_days: int = 15
    # a call answered within this many seconds counts towards the service level
    sla_seconds: int = 20
    # call recordings older than this are deleted; 0 keeps them for ever
    recording_retention_days: int = 0


_LIMITS: dict[str, tuple[int, int]] = {
    "follow_up_days": (1, 365),
    "sla_seconds": (1, 600),
    "recording_retention_days": (0, 3650),
}


class SettingError(ValueError):
    pass


def _checked(name: str, value: Any) -> Any:
    known = {f.name: f for f in fields(CenterSettings)}
    if name not in known:
        raise SettingError(f"unknown setting {name!r}")
    default = getattr(CenterSettings(), name)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise SettingError(f"{name}: expected true or false")
    elif isinstance(default, int):
        low, high = _LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SettingError(f"{name}: expected a whole number from {low} to {high}")
    return value


async def load(session: AsyncSession) -> CenterSettings:
    """Stored values over the defaults; a stored value that no longer fits is ignored."""
    rows = await session.execute(select(AppSetting.key, AppSetting.value))
    stored: dict[str, Any] = {}
    for key, value in rows:
        try:
            stored[key] = _checked(key, value)
        except SettingError:
            continue
    return replace(CenterSettings(), **stored)


async def save(session: AsyncSession, name: str, value: Any, by_user_id: int | None) -> None:
    _checked(name, value)
    statement = insert(AppSetting).values(key=name, value=value, updated_by_id=by_user_id)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[AppSetting.key],
            set_={"value": statement.excluded.value, "updated_by_id": by_user_id},
        )
    )
