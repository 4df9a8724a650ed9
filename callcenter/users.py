"""Staff accounts."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.auth import find_user
from callcenter.models import Role, User
from callcenter.passwords import hash_password

_LOGIN = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_EXTENSION = re.compile(r"^[0-9]{1,15}$")
_DEVICE = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9_.@:+-]+$")


class UserError(ValueError):
    """The account cannot be created as asked; the message says why."""


async def add_user(
    session: AsyncSession,
    *,
    login: str,
    full_name: str,
    role: str,
    password: str,
    extension: str | None = None,
    device: str | None = None,
    language: str = "ru",
) -> User:
    if not _LOGIN.fullmatch(login):
        raise UserError("login: letters, digits and . _ @ - only, at most 64")
    if role not in {r.value for r in Role}:
        raise UserError(f"role must be one of: {', '.join(r.value for r in Role)}")
    if extension is not None and not _EXTENSION.fullmatch(extension):
        raise UserError("extension must be digits, e.g. 101")
    if device is not None and not _DEVICE.fullmatch(device):
        raise UserError("device must look like PJSIP/101")
    if await find_user(session, login) is not None:
        raise UserError(f"user {login!r} already exists")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    user = User(
        login=login,
        full_name=full_name or login,
        role=role,
        password_hash=password_hash,
        extension=extension,
        interface=device,
        language=language,
    )
    session.add(user)
    await session.flush()
    return user
