"""Signing staff in and out; sessions live in the database, cookies hold a random token."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.models import ApiToken, User, WebSession
from callcenter.passwords import hash_password, rehashed, verify_password

SESSION_LIFETIME = timedelta(hours=12)
# a session seen again within this time is not rewritten (one UPDATE per minute at most)
_TOUCH_INTERVAL = timedelta(minutes=1)
# verifying against a real hash when the login is unknown keeps timing the same
_DUMMY_HASH = hash_password("timing-equaliser-not-a-password")


@dataclass(frozen=True)
class SignedIn:
    token: str
    user: User


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def find_user(session: AsyncSession, login: str) -> User | None:
    result = await session.execute(select(User).where(func.lower(User.login) == login.lower()))
    return result.scalar_one_or_none()


async def sign_in(
    session: AsyncSession, login: str, password: str, *, user_agent: str = "", ip: str = ""
) -> SignedIn | None:
    user = await find_user(session, login) if login else None
    # argon2 takes about 0.1 s of CPU: in a thread, so the event loop (every open page and
    # websocket of this worker) does not stop for each sign-in
    if user is None or not user.is_active:
        await asyncio.to_thread(verify_password, _DUMMY_HASH, password)
        return None
    if not await asyncio.to_thread(verify_password, user.password_hash, password):
        return None
    # a hash made with weaker parameters than today's is replaced while the password is known
    upgraded = await asyncio.to_thread(rehashed, user.password_hash, password)
    if upgraded is not None:
        user.password_hash = upgraded
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(
        WebSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            expires_at=now + SESSION_LIFETIME,
            last_seen_at=now,
            user_agent=user_agent or None,
            ip=ip or None,
        )
    )
    await session.flush()
    return SignedIn(token=token, user=user)


async def user_for_session(session: AsyncSession, token: str) -> tuple[User, datetime] | None:
    """The active user behind a session token and when the session ends, or None when
    unknown or expired."""
    now = datetime.now(UTC)
    row = (
        await session.execute(
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.token_hash == _token_hash(token), WebSession.expires_at > now)
        )
    ).first()
    if row is None:
        return None
    web_session, user = row
    if not user.is_active:
        return None
    if web_session.last_seen_at is None or now - web_session.last_seen_at > _TOUCH_INTERVAL:
        web_session.last_seen_at = now
    return user, web_session.expires_at


def session_key(token: str) -> str:
    """What identifies a session or an API token without being its secret (its hash):
    the key its live channels are closed by."""
    return _token_hash(token)


async def sign_out(session: AsyncSession, token: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token)))


async def user_for_api_token(session: AsyncSession, token: str) -> User | None:
    """The active user behind an API token, or None when unknown or revoked."""
    row = (
        await session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None))
        )
    ).first()
    if row is None or not row[1].is_active:
        return None
    api_token, user = row
    now = datetime.now(UTC)
    if api_token.last_used_at is None or now - api_token.last_used_at > _TOUCH_INTERVAL:
        api_token.last_used_at = now
    return user


async def issue_api_token(session: AsyncSession, user: User, name: str) -> str:
    """A new token for ``user``; only its hash is stored, so it is shown once."""
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_token_hash(token)))
    await session.flush()
    return token
