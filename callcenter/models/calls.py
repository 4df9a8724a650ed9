"""Calls as Asterisk sees them: one row per Linkedid, one leg per channel."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, SmallInteger, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.models.base import Base, CreatedAtMixin, IntPK, one_of


class CallDirection(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class CallResult(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    ABANDONED = "abandoned"  # the caller hung up while waiting in a queue
    MISSED = "missed"  # rang operators, nobody answered, the caller did not hang up first
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    FAILED = "failed"
    VOICEMAIL = "voicemail"
    UNKNOWN = "unknown"  # closed by reconciliation after an AMI outage


class LegKind(enum.StrEnum):
    CALLER = "caller"
    AGENT = "agent"
    TRANSFER = "transfer"
    OUTBOUND = "outbound"
    SPY = "spy"
    OTHER = "other"


class Disposition(CreatedAtMixin, Base):
    """A call result an operator picks, for inbound calls and dialer leads alike."""

    __tablename__ = "dispositions"
    __table_args__ = (CheckConstraint("code ~ '^[a-z0-9_]{1,63}$'", name="code"),)

    id: Mapped[IntPK]
    code: Mapped[str] = mapped_column(unique=True)
    label_ru: Mapped[str]
    label_en: Mapped[str | None]
    is_success: Mapped[bool] = mapped_column(server_default=text("false"))
    is_dnc: Mapped[bool] = mapped_column(
        server_default=text("false"), comment="adds the number to do_not_call"
    )
    needs_callback: Mapped[bool] = mapped_column(server_default=text("false"))
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        one_of("direction", CallDirection),
        one_of("result", CallResult),
        CheckConstraint("wait_seconds >= 0", name="wait_seconds"),
        CheckConstraint("talk_seconds >= 0", name="talk_seconds"),
    )

    id: Mapped[IntPK]
    # the tracker upserts on this, so a call is never recorded twice
    linkedid: Mapped[str] = mapped_column(unique=True)
    direction: Mapped[str]
    caller_number: Mapped[str | None] = mapped_column(comment="CallerIDNum as received")
    caller_e164: Mapped[str | None] = mapped_column(index=True)
    caller_name: Mapped[str | None]
    did: Mapped[str | None] = mapped_column(comment="the number dialled (DNID / Exten)")
    tracking_number_id: Mapped[int | None] = mapped_column(
        ForeignKey("tracking_numbers.id", ondelete="SET NULL"), index=True
    )
    queue_name: Mapped[str | None]
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    answered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    wait_seconds: Mapped[int | None] = mapped_column(Integer)
    talk_seconds: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(server_default=CallResult.IN_PROGRESS.value)
    hangup_cause: Mapped[int | None] = mapped_column(SmallInteger, comment="Q.850 cause code")
    recording_path: Mapped[str | None]
    caller_region: Mapped[str | None] = mapped_column(comment="where the caller's number is from")
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="SET NULL"), index=True
    )
    disposition_id: Mapped[int | None] = mapped_column(
        ForeignKey("dispositions.id", ondelete="RESTRICT")
    )
    note: Mapped[str | None]

    legs: Mapped[list[CallLeg]] = relationship(
        back_populates="call", lazy="raise", cascade="all, delete-orphan"
    )


class CallLeg(CreatedAtMixin, Base):
    """One Asterisk channel (Uniqueid) that took part in a call."""

    __tablename__ = "call_legs"
    __table_args__ = (one_of("kind", LegKind),)

    id: Mapped[IntPK]
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    uniqueid: Mapped[str] = mapped_column(unique=True)
    channel: Mapped[str]
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    interface: Mapped[str | None]
    kind: Mapped[str] = mapped_column(server_default=LegKind.OTHER.value)
    rang_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    hangup_cause: Mapped[int | None] = mapped_column(SmallInteger)

    call: Mapped[Call] = relationship(back_populates="legs", lazy="raise")
