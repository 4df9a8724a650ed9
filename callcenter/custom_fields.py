"""Extra fields an admin defines for contacts and companies.

Entity, key and type are fixed once created: stored values (``custom_fields`` JSON of
each contact or company) and import/export headers use the key, and a value typed
as a number must not silently become a date. Labels, choices and order may change;
a field no longer wanted is deactivated, so the values already stored stay readable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.form_errors import MAX_LABEL, FormInvalid, Problems, labels, text_field
from callcenter.models import CustomFieldDefinition, CustomFieldEntity, CustomFieldType

KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MAX_CHOICES = 100


@dataclass(frozen=True)
class FieldLabels:
    label_ru: str
    label_en: str | None
    choices: tuple[str, ...]


def _choices(raw: str) -> tuple[str, ...]:
    """One choice a line; blanks and repeats dropped, the order kept."""
    seen: dict[str, None] = {}
    for line in raw.splitlines():
        value = " ".join(line.split())[:MAX_LABEL]
        if value:
            seen.setdefault(value, None)
    return tuple(seen)


def read_labels(raw: Mapping[str, str], value_type: str) -> FieldLabels:
    problems = Problems()
    label_ru, label_en = labels(raw, problems)
    choices = _choices(str(raw.get("choices", "")))
    if value_type == CustomFieldType.CHOICE:
        if not choices:
            problems.add("choices", "List the choices, one a line.")
        elif len(choices) > MAX_CHOICES:
            problems.add("choices", "At most 100 choices.")
    problems.raise_any()
    return FieldLabels(
        label_ru, label_en or None, choices if value_type == CustomFieldType.CHOICE else ()
    )


async def all_fields(session: AsyncSession) -> list[CustomFieldDefinition]:
    return list(
        await session.scalars(
            select(CustomFieldDefinition).order_by(
                CustomFieldDefinition.entity,
                CustomFieldDefinition.is_active.desc(),
                CustomFieldDefinition.position,
                CustomFieldDefinition.id,
            )
        )
    )


async def add_field(session: AsyncSession, raw: Mapping[str, str]) -> CustomFieldDefinition:
    """A new definition from the form: entity, key, type, labels, choices."""
    problems = Problems()
    entity = text_field(raw, "entity")
    value_type = text_field(raw, "value_type")
    key = text_field(raw, "key").lower()
    if entity not in {e.value for e in CustomFieldEntity}:
        problems.add("entity", "Choose contact or company.")
    if value_type not in {t.value for t in CustomFieldType}:
        problems.add("value_type", "Choose a type.")
    if not KEY.match(key):
        problems.add("key", "Latin letters, digits and _, starting with a letter, e.g. inn.")
    elif await session.scalar(
        select(CustomFieldDefinition.id).where(
            CustomFieldDefinition.entity == entity, CustomFieldDefinition.key == key
        )
    ):
        problems.add("key", "This key is taken.")
    try:
        labels = read_labels(raw, value_type)
    except FormInvalid as exc:
        problems.found.update(exc.problems)
    problems.raise_any()
    last = await session.scalar(
        select(func.max(CustomFieldDefinition.position)).where(
            CustomFieldDefinition.entity == entity
        )
    )
    definition = CustomFieldDefinition(
        entity=entity,
        key=key,
        value_type=value_type,
        label_ru=labels.label_ru,
        label_en=labels.label_en,
        choices=list(labels.choices) if labels.choices else None,
        position=(last or 0) + 1,
    )
    session.add(definition)
    await session.flush()
    return definition


def apply_labels(definition: CustomFieldDefinition, labels: FieldLabels) -> None:
    definition.label_ru = labels.label_ru
    definition.label_en = labels.label_en
    if definition.value_type == CustomFieldType.CHOICE:
        definition.choices = list(labels.choices)
