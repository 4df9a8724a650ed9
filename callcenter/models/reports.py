"""What the reports read besides the call log: hourly call totals and operators' states.

``call_hour_totals`` and ``operator_hour_totals`` are kept by a trigger on ``calls``
(migration 0008): every finished call adds one to the row of its hour and kind (and,
when an operator answered it, to that operator's row), and a call whose row changes
moves its one from the old rows to the new. So a year of calls sums in milliseconds and
still counts each call exactly once, whatever happened to it later. The operators have
a table of their own because they multiply the rows: a hundred of them answer in every
hour, while the queue and campaign figures need a few dozen rows an hour.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import Base, IntPK, one_of


class _HourTotal:
    id: Mapped[IntPK]
    hour: Mapped[datetime] = mapped_column(index=True)
    direction: Mapped[str]
    result: Mapped[str]
    queue_name: Mapped[str | None]
    # no foreign keys: a total outlives the campaign or user it counts
    campaign_id: Mapped[int | None] = mapped_column(BigInteger)
    calls: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    answered: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    talk_seconds: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    answer_wait_seconds: Mapped[int] = mapped_column(
        BigInteger, server_default=text("0"), comment="waits of the answered calls, summed"
    )


class CallHourTotal(_HourTotal, Base):
    """Finished calls of one UTC hour with the same direction, result, queue and campaign.
    Written only by the trigger; rebuilt by ``rebuild_call_hour_totals()``."""

    __tablename__ = "call_hour_totals"
    __table_args__ = (
        UniqueConstraint(
            "hour",
            "direction",
            "result",
            "queue_name",
            "campaign_id",
            name="uq_call_hour_totals_key",
            postgresql_nulls_not_distinct=True,
        ),
    )


class OperatorHourTotal(_HourTotal, Base):
    """The same, for the calls one operator answered."""

    __tablename__ = "operator_hour_totals"
    __table_args__ = (
        UniqueConstraint(
            "hour",
            "answered_by_id",
            "direction",
            "result",
            "queue_name",
            "campaign_id",
            name="uq_operator_hour_totals_key",
            postgresql_nulls_not_distinct=True,
        ),
    )

    answered_by_id: Mapped[int] = mapped_column(BigInteger)


class OperatorStateSpan(Base):
    """A stretch of time an operator's queue membership spent ready, paused or offline."""

    __tablename__ = "operator_state_spans"
    __table_args__ = (
        one_of("state", ("ready", "paused", "offline")),
        # one open span per phone: the writer closes the old one as it opens the next
        Index(
            "uq_operator_state_spans_open_device",
            "device",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
        Index("ix_operator_state_spans_user_id_started_at", "user_id", "started_at"),
    )

    id: Mapped[IntPK]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    device: Mapped[str]
    state: Mapped[str]
    reason: Mapped[str] = mapped_column(server_default="")
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
