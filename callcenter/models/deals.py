"""The sales funnel: stages, refusal reasons, deals and their stage history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    Numeric,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.models.base import Base, CreatedAtMixin, IntPK, UpdatedAtMixin


class PipelineStage(CreatedAtMixin, Base):
    __tablename__ = "pipeline_stages"
    __table_args__ = (
        CheckConstraint("NOT (is_won AND is_lost)", name="won_or_lost"),
        # target of deals' (stage_id, stage_is_lost) foreign key
        UniqueConstraint("id", "is_lost"),
    )

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(unique=True)
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    is_won: Mapped[bool] = mapped_column(server_default=text("false"))
    is_lost: Mapped[bool] = mapped_column(server_default=text("false"))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


class RefusalReason(CreatedAtMixin, Base):
    """Why a client said no; shared by deals and by contacts with status 'refused'."""

    __tablename__ = "refusal_reasons"

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(unique=True)
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


class Deal(CreatedAtMixin, UpdatedAtMixin, Base):
    __tablename__ = "deals"
    __table_args__ = (
        # A lost deal needs a refusal reason. The stage's is_lost is copied into the deal
        # and kept honest by a composite foreign key, so a plain CHECK can enforce the
        # rule without a trigger: set stage_id and stage_is_lost together.
        ForeignKeyConstraint(
            ["stage_id", "stage_is_lost"],
            ["pipeline_stages.id", "pipeline_stages.is_lost"],
            ondelete="RESTRICT",
            onupdate="CASCADE",
        ),
        CheckConstraint(
            "NOT stage_is_lost OR refusal_reason_id IS NOT NULL", name="lost_has_reason"
        ),
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
    )

    id: Mapped[IntPK]
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str]
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(server_default="RUB")
    stage_id: Mapped[int] = mapped_column(index=True)
    stage_is_lost: Mapped[bool] = mapped_column(server_default=text("false"))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    refusal_reason_id: Mapped[int | None] = mapped_column(
        ForeignKey("refusal_reasons.id", ondelete="RESTRICT"), index=True
    )
    closed_at: Mapped[datetime | None]

    stage_changes: Mapped[list[DealStageChange]] = relationship(
        back_populates="deal", lazy="raise", cascade="all, delete-orphan"
    )


class DealStageChange(Base):
    __tablename__ = "deal_stage_changes"

    id: Mapped[IntPK]
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    from_stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipeline_stages.id", ondelete="RESTRICT")
    )
    to_stage_id: Mapped[int] = mapped_column(ForeignKey("pipeline_stages.id", ondelete="RESTRICT"))
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now())

    deal: Mapped[Deal] = relationship(back_populates="stage_changes", lazy="raise")
