"""Funnel defaults for a fresh install: pipeline stages, refusal reasons, call results.

Each list is inserted only into an empty table, so an install whose admin has already
set things up keeps exactly what it has. Downgrade removes only the defaults nobody
touched or used.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, is_won, is_lost); the position is the order here
STAGES = (
    ("Новая заявка", False, False),
    ("Квалификация", False, False),
    ("Переговоры", False, False),
    ("Счёт выставлен", False, False),
    ("Успешно", True, False),
    ("Отказ", False, True),
)
REFUSAL_REASONS = (
    "Дорого",
    "Не актуально",
    "Выбрали конкурента",
    "Нет бюджета",
    "Не дозвонились",
)
# (code, label_ru, label_en, is_success, is_dnc, needs_callback)
DISPOSITIONS = (
    ("sale", "Продажа", "Sale", True, False, False),
    ("callback", "Перезвонить", "Call back", False, False, True),
    ("not_interested", "Не интересно", "Not interested", False, False, False),
    ("do_not_call", "Не звонить", "Do not call", False, True, False),
    ("wrong_number", "Ошибочный номер", "Wrong number", False, False, False),
)


def _empty(table: str) -> bool:
    # table names are this file's own constants, never input
    query = sa.text(f"SELECT NOT EXISTS (SELECT 1 FROM {table})")  # noqa: S608
    return bool(op.get_bind().execute(query).scalar_one())


def upgrade() -> None:
    bind = op.get_bind()
    if _empty("pipeline_stages"):
        for position, (name, won, lost) in enumerate(STAGES):
            bind.execute(
                sa.text(
                    "INSERT INTO pipeline_stages (name, position, is_won, is_lost)"
                    " VALUES (:name, :position, :won, :lost)"
                ),
                {"name": name, "position": position, "won": won, "lost": lost},
            )
    if _empty("refusal_reasons"):
        for name in REFUSAL_REASONS:
            bind.execute(
                sa.text("INSERT INTO refusal_reasons (name) VALUES (:name)"), {"name": name}
            )
    if _empty("dispositions"):
        for position, (code, ru, en, success, dnc, callback) in enumerate(DISPOSITIONS):
            bind.execute(
                sa.text(
                    "INSERT INTO dispositions"
                    " (code, label_ru, label_en, is_success, is_dnc, needs_callback, position)"
                    " VALUES (:code, :ru, :en, :success, :dnc, :callback, :position)"
                ),
                {
                    "code": code,
                    "ru": ru,
                    "en": en,
                    "success": success,
                    "dnc": dnc,
                    "callback": callback,
                    "position": position,
                },
            )


def downgrade() -> None:
    bind = op.get_bind()
    for position, (name, won, lost) in enumerate(STAGES):
        bind.execute(
            sa.text(
                "DELETE FROM pipeline_stages s WHERE name = :name AND position = :position"
                " AND is_won = :won AND is_lost = :lost AND is_active"
                " AND NOT EXISTS (SELECT 1 FROM deals WHERE stage_id = s.id)"
                " AND NOT EXISTS (SELECT 1 FROM deal_stage_changes"
                "  WHERE from_stage_id = s.id OR to_stage_id = s.id)"
            ),
            {"name": name, "position": position, "won": won, "lost": lost},
        )
    for name in REFUSAL_REASONS:
        bind.execute(
            sa.text(
                "DELETE FROM refusal_reasons r WHERE name = :name AND is_active"
                " AND NOT EXISTS (SELECT 1 FROM deals WHERE refusal_reason_id = r.id)"
                " AND NOT EXISTS (SELECT 1 FROM contacts WHERE refusal_reason_id = r.id)"
            ),
            {"name": name},
        )
    for position, (code, ru, en, success, dnc, callback) in enumerate(DISPOSITIONS):
        bind.execute(
            sa.text(
                "DELETE FROM dispositions d WHERE code = :code AND label_ru = :ru"
                " AND label_en = :en AND is_success = :success AND is_dnc = :dnc"
                " AND needs_callback = :callback AND position = :position AND is_active"
                " AND NOT EXISTS (SELECT 1 FROM calls WHERE disposition_id = d.id)"
            ),
            {
                "code": code,
                "ru": ru,
                "en": en,
                "success": success,
                "dnc": dnc,
                "callback": callback,
                "position": position,
            },
        )
