"""What every user changes about their own account: language, time zone, password,
being on duty for web-form leads (managers), personal API tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.auth import issue_api_token
from callcenter.form_errors import Problems
from callcenter.models import ApiToken, Language, Role, User
from callcenter.passwords import MIN_LENGTH, hash_password, verify_password
from callcenter.staff import end_sessions
from callcenter.time_zones import is_time_zone

MAX_TOKEN_NAME = 100


async def set_preferences(session: AsyncSession, user: User, language: str, time_zone: str) -> None:
    problems = Problems()
    if language not in {lang.value for lang in Language}:
        problems.add("language", "Choose a language.")
    if not is_time_zone(time_zone):
        problems.add("time_zone", "Choose a time zone.")
    problems.raise_any()
    user.language = language
    user.time_zone = time_zone
    await session.flush()


async def change_password(
    session: AsyncSession,
    user: User,
    *,
    current: str,
    new: str,
    repeated: str,
    keep_token: str | None,
) -> None:
    """The user's own new password; their other browsers are signed out."""
    problems = Problems()
    if not verify_password(user.password_hash, current):
        problems.add("current_password", "The current password is wrong.")
    if len(new) < MIN_LENGTH:
        problems.add("new_password", "At least %(count)s characters.", count=str(MIN_LENGTH))
    elif new != repeated:
        problems.add("repeat_password", "The passwords do not match.")
    problems.raise_any()
    user.password_hash = hash_password(new)
    await end_sessions(session, user.id, keep_token=keep_token)
    await session.flush()


def may_be_on_duty(user: User) -> bool:
    """Only managers share the web-form leads."""
    return user.role == Role.MANAGER


async def set_on_duty(session: AsyncSession, user: User, on_duty: bool) -> None:
    problems = Problems()
    if not may_be_on_duty(user):
        problems.add("is_on_duty", "Only managers take web-form leads.")
    problems.raise_any()
    user.is_on_duty = on_duty
    await session.flush()


async def api_tokens(session: AsyncSession, user: User) -> list[ApiToken]:
    return list(
        await session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


async def new_api_token(session: AsyncSession, user: User, name: str) -> str:
    """The token itself, to be shown once: only its hash is kept."""
    name = " ".join(name.split())
    problems = Problems()
    if not name:
        problems.add("token_name", "Name the token, e.g. the script that will use it.")
    elif len(name) > MAX_TOKEN_NAME:
        problems.add("token_name", "At most 100 characters.")
    problems.raise_any()
    return await issue_api_token(session, user, name)


async def revoke_api_token(session: AsyncSession, user: User, token_id: int) -> str | None:
    """The revoked token's key (``auth.session_key``: its live channels end too); None
    when the token is not this user's (or already revoked)."""
    result = await session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            ApiToken.user_id == user.id,
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=datetime.now(UTC))
        .returning(ApiToken.token_hash)
    )
    key: str | None = result.scalar_one_or_none()
    return key
