"""Staff accounts, teams, browser sessions and API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, func, text
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import Base, CreatedAtMixin, IntPK, one_of


class Role(enum.StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    ADMIN = "admin"


class Language(enum.StrEnum):
    RU = "ru"
    EN = "en"


class Team(CreatedAtMixin, Base):
    """A group of operators; a supervisor's own ``team_id`` is the team they supervise."""

    __tablename__ = "teams"

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(unique=True)


class User(CreatedAtMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        # logins are compared case-insensitively but shown as typed
        Index("uq_users_login_lower", func.lower(text("login")), unique=True),
        one_of("role", Role),
        one_of("language", Language),
        CheckConstraint("login <> '' AND login !~ '[[:space:]]'", name="login"),
        # extensions and interfaces end up in AMI actions and dialplan variables
        CheckConstraint("extension ~ '^[0-9]{1,15}$'", name="extension"),
        CheckConstraint("interface ~ '^[A-Za-z0-9]+/[A-Za-z0-9_.@:+-]+$'", name="interface"),
    )

    id: Mapped[IntPK]
    login: Mapped[str]
    full_name: Mapped[str]
    password_hash: Mapped[str] = mapped_column(comment="argon2 hash; the password is never kept")
    role: Mapped[str] = mapped_column(server_default=Role.OPERATOR.value)
    language: Mapped[str] = mapped_column(server_default=Language.RU.value)
    time_zone: Mapped[str] = mapped_column(server_default="Europe/Moscow")
    # users are deactivated, not deleted: calls, audit and history keep pointing at them
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    # managers on duty share the web-form leads between them
    is_on_duty: Mapped[bool] = mapped_column(server_default=text("true"))
    extension: Mapped[str | None] = mapped_column(unique=True, comment="SIP extension, e.g. 101")
    interface: Mapped[str | None] = mapped_column(unique=True, comment="device, e.g. PJSIP/op101")
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )


class WebSession(CreatedAtMixin, Base):
    """A browser login; the cookie holds the token, the table only its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[IntPK]
    token_hash: Mapped[str] = mapped_column(unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    last_seen_at: Mapped[datetime | None]
    user_agent: Mapped[str | None]
    ip: Mapped[str | None] = mapped_column(INET)


class ApiToken(CreatedAtMixin, Base):
    """A bearer token for scripts and integrations; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str]
    token_hash: Mapped[str] = mapped_column(unique=True)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
