"""Reports: hourly call totals kept by a trigger, operators' state spans, the caller's region.

``call_hour_totals`` holds, per UTC hour and per (direction, result, queue, campaign),
how many finished calls there were, how many were answered, their talk time and the
answered ones' waits; ``operator_hour_totals`` the same per operator, for the calls an
operator answered. The trigger on ``calls`` keeps both exact: a call counts once it has
a result other than ``in_progress``; when a counted row changes, its one moves from the
old totals rows to the new; a deleted call takes its one away.
``rebuild_call_hour_totals()`` recomputes both from ``calls`` (used here for the calls
logged before this revision, and by the reports benchmark after bulk loads).

``calls.caller_region``: the region the caller's number belongs to, for reports by
region. Calls logged before this revision have none.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 02:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MEASURES = "calls, answered, talk_seconds, answer_wait_seconds"
_CALL_KEY = "hour, direction, result, queue_name, campaign_id"
_OPERATOR_KEY = "hour, answered_by_id, direction, result, queue_name, campaign_id"


def _add(table: str, key: str, values: str, where: str) -> str:
    """The INSERT ... ON CONFLICT that adds ``sign`` calls like ``c`` to ``table``."""
    return f"""
    INSERT INTO {table} AS t ({key}, {_MEASURES})
    SELECT {values},
           sign,
           sign * (c.answered_at IS NOT NULL)::integer,
           sign * coalesce(c.talk_seconds, 0),
           sign * CASE WHEN c.answered_at IS NOT NULL THEN coalesce(c.wait_seconds, 0) ELSE 0 END
    WHERE {where}
    ON CONFLICT ({key}) DO UPDATE SET
        calls = t.calls + excluded.calls,
        answered = t.answered + excluded.answered,
        talk_seconds = t.talk_seconds + excluded.talk_seconds,
        answer_wait_seconds = t.answer_wait_seconds + excluded.answer_wait_seconds"""


_HOUR = "date_trunc('hour', c.started_at, 'UTC')"
_ADD_TO_CALLS = _add(
    "call_hour_totals",
    _CALL_KEY,
    f"{_HOUR}, c.direction, c.result, c.queue_name, c.campaign_id",
    "true",
)
_ADD_TO_OPERATORS = _add(
    "operator_hour_totals",
    _OPERATOR_KEY,
    f"{_HOUR}, c.answered_by_id, c.direction, c.result, c.queue_name, c.campaign_id",
    "c.answered_by_id IS NOT NULL",
)
_ADD = f"""
CREATE FUNCTION call_hour_totals_add(c calls, sign integer) RETURNS void
LANGUAGE sql AS $$
{_ADD_TO_CALLS};
{_ADD_TO_OPERATORS}
$$
"""

_COUNT = """
CREATE FUNCTION calls_count_in_hour_totals() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.result <> 'in_progress' AND NEW.result <> 'in_progress'
       AND (OLD.started_at, OLD.direction, OLD.result, OLD.queue_name, OLD.answered_by_id,
            OLD.campaign_id, OLD.answered_at IS NULL, OLD.talk_seconds, OLD.wait_seconds)
           IS NOT DISTINCT FROM
           (NEW.started_at, NEW.direction, NEW.result, NEW.queue_name, NEW.answered_by_id,
            NEW.campaign_id, NEW.answered_at IS NULL, NEW.talk_seconds, NEW.wait_seconds)
    THEN
        RETURN NULL;  -- a note or a result picked after the call: the totals stand
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.result <> 'in_progress' THEN
        PERFORM call_hour_totals_add(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.result <> 'in_progress' THEN
        PERFORM call_hour_totals_add(NEW, 1);
    END IF;
    RETURN NULL;
END
$$
"""

_TRIGGER = """
CREATE TRIGGER calls_count_in_hour_totals
    AFTER INSERT OR UPDATE OR DELETE ON calls
    FOR EACH ROW EXECUTE FUNCTION calls_count_in_hour_totals()
"""

_REBUILT = """
    SUM(1), count(*) FILTER (WHERE answered_at IS NOT NULL), coalesce(sum(talk_seconds), 0),
    coalesce(sum(wait_seconds) FILTER (WHERE answered_at IS NOT NULL), 0)
"""
_REBUILD = f"""
CREATE FUNCTION rebuild_call_hour_totals() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM call_hour_totals;
    DELETE FROM operator_hour_totals;
    INSERT INTO call_hour_totals ({_CALL_KEY}, {_MEASURES})
    SELECT date_trunc('hour', started_at, 'UTC'), direction, result, queue_name, campaign_id,
           {_REBUILT}
      FROM calls WHERE result <> 'in_progress'
     GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO operator_hour_totals ({_OPERATOR_KEY}, {_MEASURES})
    SELECT date_trunc('hour', started_at, 'UTC'), answered_by_id, direction, result,
           queue_name, campaign_id,
           {_REBUILT}
      FROM calls WHERE result <> 'in_progress' AND answered_by_id IS NOT NULL
     GROUP BY 1, 2, 3, 4, 5, 6;
$$
"""  # noqa: S608 - fixed names


def _totals_table(name: str, *key: sa.Column[Any]) -> None:
    op.create_table(
        name,
        *key,
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("queue_name", sa.Text(), nullable=True),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("calls", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("answered", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("talk_seconds", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "answer_wait_seconds",
            sa.BigInteger(),
            server_default=sa.text("0"),
            nullable=False,
            comment="waits of the answered calls, summed",
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
    )
    op.create_index(f"ix_{name}_hour", name, ["hour"], unique=False)


def upgrade() -> None:
    op.add_column(
        "calls",
        sa.Column(
            "caller_region",
            sa.Text(),
            nullable=True,
            comment="where the caller's number is from",
        ),
    )
    _totals_table("call_hour_totals")
    op.execute(
        "ALTER TABLE call_hour_totals ADD CONSTRAINT uq_call_hour_totals_key"
        f" UNIQUE NULLS NOT DISTINCT ({_CALL_KEY})"
    )
    _totals_table(
        "operator_hour_totals", sa.Column("answered_by_id", sa.BigInteger(), nullable=False)
    )
    op.execute(
        "ALTER TABLE operator_hour_totals ADD CONSTRAINT uq_operator_hour_totals_key"
        f" UNIQUE NULLS NOT DISTINCT ({_OPERATOR_KEY})"
    )
    op.create_table(
        "operator_state_spans",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("device", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('ready', 'paused', 'offline')", name=op.f("ck_operator_state_spans_state")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_operator_state_spans_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_state_spans")),
    )
    op.create_index(
        "uq_operator_state_spans_open_device",
        "operator_state_spans",
        ["device"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_index(
        "ix_operator_state_spans_user_id_started_at",
        "operator_state_spans",
        ["user_id", "started_at"],
        unique=False,
    )
    for statement in (_ADD, _COUNT, _TRIGGER, _REBUILD):
        op.execute(statement)
    op.execute("SELECT rebuild_call_hour_totals()")


def downgrade() -> None:
    op.execute("DROP TRIGGER calls_count_in_hour_totals ON calls")
    op.execute("DROP FUNCTION calls_count_in_hour_totals()")
    op.execute("DROP FUNCTION rebuild_call_hour_totals()")
    op.execute("DROP FUNCTION call_hour_totals_add(calls, integer)")
    op.drop_index("ix_operator_state_spans_user_id_started_at", table_name="operator_state_spans")
    op.drop_index("uq_operator_state_spans_open_device", table_name="operator_state_spans")
    op.drop_table("operator_state_spans")
    for table in ("operator_hour_totals", "call_hour_totals"):
        op.drop_index(f"ix_{table}_hour", table_name=table)
        op.drop_table(table)
    op.drop_column("calls", "caller_region")
