"""Admin-defined extra fields of contacts and companies (values live in ``custom_fields``)."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import CheckConstraint, Integer, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import Base, CreatedAtMixin, IntPK, one_of


class CustomFieldEntity(enum.StrEnum):
    CONTACT = "contact"
    COMPANY = "company"


class CustomFieldType(enum.StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOL = "bool"
    CHOICE = "choice"


class CustomFieldDefinition(CreatedAtMixin, Base):
    __tablename__ = "custom_field_definitions"
    __table_args__ = (
        UniqueConstraint("entity", "key"),
        one_of("entity", CustomFieldEntity),
        one_of("value_type", CustomFieldType),
        # the key is a JSON key in custom_fields and appears in import/export headers
        CheckConstraint("key ~ '^[a-z][a-z0-9_]{0,62}$'", name="key"),
        CheckConstraint(
            "value_type <> 'choice' OR jsonb_typeof(choices) = 'array'", name="choices"
        ),
    )

    id: Mapped[IntPK]
    entity: Mapped[str]
    key: Mapped[str]
    label_ru: Mapped[str]
    label_en: Mapped[str | None]
    value_type: Mapped[str] = mapped_column(server_default=CustomFieldType.TEXT.value)
    choices: Mapped[list[Any] | None] = mapped_column(JSONB)
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
