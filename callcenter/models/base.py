"""Declarative base, shared column types and helpers for every model module."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Identity,
    MetaData,
    Numeric,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Alembic compares and drops constraints by name, so every name must be derived,
# never left to PostgreSQL's own defaults.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = dict[str, Any]

EMPTY_OBJECT = text("'{}'::jsonb")
"""Server default of a JSONB object column."""

IntPK = Annotated[int, mapped_column(BigInteger, Identity(), primary_key=True)]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    type_annotation_map = {  # noqa: RUF012 - read by SQLAlchemy, never mutated
        int: BigInteger,
        str: Text,
        bool: Boolean,
        datetime: DateTime(timezone=True),
        date: Date,
        Decimal: Numeric,
        Json: JSONB,
    }

    # Server-side defaults (now(), '{}') are read back with RETURNING on INSERT and
    # UPDATE; otherwise touching them later would lazy-load, which async sessions forbid.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012


class CreatedAtMixin:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), sort_order=100)


class UpdatedAtMixin:
    # onupdate is applied by the ORM only; raw SQL updates must set it themselves
    updated_at: Mapped[datetime] = mapped_column(
        server_default=func.now(), onupdate=func.now(), sort_order=101
    )


def one_of(column: str, values: Iterable[str], name: str = "") -> CheckConstraint:
    """CHECK that a text column holds one of ``values`` (used instead of PostgreSQL ENUMs)."""
    quoted = ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=name or column)
