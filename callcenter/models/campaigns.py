"""Outbound campaigns (cold-call lists): settings, operators, leads and dial attempts."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import (
    EMPTY_OBJECT,
    Base,
    CreatedAtMixin,
    IntPK,
    Json,
    UpdatedAtMixin,
    one_of,
)
from callcenter.models.clients import E164_CHECK


class DialMode(enum.StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"
    POWER = "power"


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"


class AbandonWindow(enum.StrEnum):
    DAY = "24h"
    MONTH = "30d"


class LeadStatus(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"
    DNC = "dnc"
    CALLBACK = "callback"
    UNKNOWN = "unknown"


class AttemptOutcome(enum.StrEnum):
    PENDING = "pending"
    ANSWERED = "answered"
    ABANDONED = "abandoned"  # answered by the client, no operator was free
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    FAILED = "failed"
    MACHINE = "machine"  # answering machine detected
    # AMI went away before the result arrived; never re-dialled automatically
    UNKNOWN = "unknown"


class Campaign(CreatedAtMixin, UpdatedAtMixin, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        one_of("mode", DialMode),
        one_of("status", CampaignStatus),
        one_of("abandon_window", AbandonWindow),
        CheckConstraint("max_attempts >= 1", name="max_attempts"),
        CheckConstraint("target_abandon_rate BETWEEN 0 AND 1", name="target_abandon_rate"),
        CheckConstraint("lines_per_operator > 0", name="lines_per_operator"),
        CheckConstraint("max_lines > 0", name="max_lines"),
        # the caller id goes into an AMI Originate header
        CheckConstraint("caller_id !~ '[[:cntrl:]]'", name="caller_id"),
    )

    id: Mapped[IntPK]
    name: Mapped[str]
    mode: Mapped[str] = mapped_column(server_default=DialMode.PREVIEW.value)
    status: Mapped[str] = mapped_column(server_default=CampaignStatus.DRAFT.value)
    # 38-FZ: advertising calls go only to numbers with a recorded consent
    is_advertising: Mapped[bool] = mapped_column(server_default=text("true"))
    caller_id: Mapped[str | None]
    script: Mapped[str | None] = mapped_column(comment="what the operator says")
    max_attempts: Mapped[int] = mapped_column(Integer, server_default=text("3"))
    retry_delays: Mapped[Json] = mapped_column(
        server_default=EMPTY_OBJECT, comment='seconds per outcome, e.g. {"busy": 600}'
    )
    calling_windows: Mapped[Json] = mapped_column(
        server_default=EMPTY_OBJECT,
        comment='per weekday in the lead\'s local time, e.g. {"mon": [["09:00", "21:00"]]}',
    )
    target_abandon_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4), server_default=text("0.03"))
    abandon_window: Mapped[str] = mapped_column(server_default=AbandonWindow.DAY.value)
    lines_per_operator: Mapped[Decimal] = mapped_column(Numeric(4, 2), server_default=text("1"))
    max_lines: Mapped[int | None] = mapped_column(Integer)
    amd_enabled: Mapped[bool] = mapped_column(server_default=text("false"))
    disposition_codes: Mapped[list[str]] = mapped_column(
        ARRAY(Text),
        server_default=text("'{}'::text[]"),
        comment="results the operator may pick; empty = every active one",
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class CampaignOperator(CreatedAtMixin, Base):
    __tablename__ = "campaign_operators"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Lead(CreatedAtMixin, UpdatedAtMixin, Base):
    """One number to call in a campaign."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("campaign_id", "phone_e164"),
        one_of("status", LeadStatus),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint(f"phone_e164 ~ '{E164_CHECK}'", name="phone_e164"),
        # a lead is locked by exactly one dialer or operator, or by none
        CheckConstraint("(locked_at IS NULL) = (locked_by IS NULL)", name="lock"),
        # the dialer's "next lead to call" query
        Index(
            "ix_leads_campaign_id_status_next_attempt_at",
            "campaign_id",
            "status",
            "next_attempt_at",
        ),
    )

    id: Mapped[IntPK]
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    phone_raw: Mapped[str]
    phone_e164: Mapped[str] = mapped_column(index=True)
    time_zone: Mapped[str | None] = mapped_column(comment="of the number; calling windows use it")
    fields: Mapped[Json] = mapped_column(server_default=EMPTY_OBJECT, comment="imported columns")
    status: Mapped[str] = mapped_column(server_default=LeadStatus.NEW.value)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None]
    last_result: Mapped[str | None]
    assigned_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    locked_at: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(comment="dialer instance or user holding it")


class CallAttempt(Base):
    """One Originate of a lead; ``action_id`` matches the AMI reply and events to it."""

    __tablename__ = "call_attempts"
    __table_args__ = (
        one_of("outcome", AttemptOutcome),
        # abandon rate over the campaign's window
        Index("ix_call_attempts_campaign_id_originated_at", "campaign_id", "originated_at"),
    )

    id: Mapped[IntPK]
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    action_id: Mapped[str] = mapped_column(unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), comment="operator the call was meant for"
    )
    originated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(server_default=AttemptOutcome.PENDING.value)
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
