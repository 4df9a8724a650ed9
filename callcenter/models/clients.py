"""The client base: companies, contacts and their phones and e-mails."""

from __future__ import annotations

import enum
from datetime import date
from typing import Any

from sqlalchemy import (
    DDL,
    CheckConstraint,
    ForeignKey,
    Index,
    Text,
    event,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.models.base import (
    EMPTY_OBJECT,
    Base,
    CreatedAtMixin,
    IntPK,
    Json,
    UpdatedAtMixin,
    one_of,
)

# E.164 as produced by phonenumbers' format_number(..., E164)
E164_CHECK = r"^\+[1-9][0-9]{6,14}$"

# What client search matches a name against; callcenter.client_search queries this
# very expression, so the trigram and the prefix indexes serve it. Written as PostgreSQL
# prints it back (pg_get_indexdef), so that autogenerate sees no drift between models and
# migrations.
CONTACT_SEARCH_NAME = (
    "lower((((((COALESCE(last_name, ''::text) || ' '::text) || COALESCE(first_name, ''::text))"
    " || ' '::text) || COALESCE(middle_name, ''::text)) || ' '::text)"
    " || COALESCE(display_name, ''::text))"
)


def _trigram_index(name: str, expression: str) -> Index:
    """A GIN trigram index (pg_trgm) serving ``ILIKE '%fragment%'`` on ``expression``."""
    # an expression is labelled so that postgresql_ops can name it
    if expression.isidentifier():
        on: Any = expression
        key = expression
    else:
        on, key = literal_column(expression).label(name), name
    return Index(name, on, postgresql_using="gin", postgresql_ops={key: "gin_trgm_ops"})


def _prefix_index(name: str, expression: str) -> Index:
    """A btree in byte order serving ``expression ~>=~ 'смир' AND expression ~<~ 'смис'``
    (the values that start with ``смир``), read in order."""
    on: Any = literal_column(expression).label(name)
    return Index(name, on, postgresql_using="btree", postgresql_ops={name: "text_pattern_ops"})


class ContactStatus(enum.StrEnum):
    LEAD = "lead"
    CLIENT = "client"
    REFUSED = "refused"


class PhoneKind(enum.StrEnum):
    MOBILE = "mobile"
    WORK = "work"
    HOME = "home"
    FAX = "fax"
    OTHER = "other"


class Company(CreatedAtMixin, UpdatedAtMixin, Base):
    __tablename__ = "companies"

    __table_args__ = (_trigram_index("ix_companies_name_trgm", "lower(name)"),)

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(index=True)
    tax_id: Mapped[str | None] = mapped_column(comment="ИНН or another tax id")
    address: Mapped[str | None]
    notes: Mapped[str | None]
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, comment="personal manager"
    )
    custom_fields: Mapped[Json] = mapped_column(server_default=EMPTY_OBJECT)


class Contact(CreatedAtMixin, UpdatedAtMixin, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        CheckConstraint(
            "coalesce(display_name, first_name, last_name, middle_name) IS NOT NULL",
            name="has_name",
        ),
        one_of("status", ContactStatus),
        CheckConstraint(
            "status <> 'refused' OR refusal_reason_id IS NOT NULL", name="refused_has_reason"
        ),
        CheckConstraint("merged_into_id <> id", name="not_merged_into_self"),
        Index("ix_contacts_tags", "tags", postgresql_using="gin"),
        _trigram_index("ix_contacts_search_name_trgm", CONTACT_SEARCH_NAME),
        _prefix_index("ix_contacts_search_name_start", CONTACT_SEARCH_NAME),
    )

    id: Mapped[IntPK]
    first_name: Mapped[str | None]
    last_name: Mapped[str | None]
    middle_name: Mapped[str | None]
    display_name: Mapped[str | None] = mapped_column(comment="when no split name is known")
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    position: Mapped[str | None]
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, comment="personal manager"
    )
    status: Mapped[str] = mapped_column(server_default=ContactStatus.LEAD.value)
    refusal_reason_id: Mapped[int | None] = mapped_column(
        ForeignKey("refusal_reasons.id", ondelete="RESTRICT")
    )
    ad_channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("ad_channels.id", ondelete="RESTRICT"),
        index=True,
        comment="where the first contact came from",
    )
    birthday: Mapped[date | None]
    custom_fields: Mapped[Json] = mapped_column(server_default=EMPTY_OBJECT)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    time_zone: Mapped[str | None]
    region: Mapped[str | None]
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_imports.id", ondelete="SET NULL"),
        index=True,
        comment="the CSV import that created it: a dial list can be made of one",
    )
    # a merged duplicate is kept (its history still points at it) and forwards here
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )

    # lazy="raise": async sessions cannot lazy-load; ask for selectinload() explicitly
    phones: Mapped[list[ContactPhone]] = relationship(
        back_populates="contact", lazy="raise", cascade="all, delete-orphan"
    )
    emails: Mapped[list[ContactEmail]] = relationship(
        back_populates="contact", lazy="raise", cascade="all, delete-orphan"
    )


class ContactPhone(CreatedAtMixin, Base):
    """A number of a contact; ``e164`` is unique so a caller-ID maps to one contact."""

    __tablename__ = "contact_phones"
    __table_args__ = (
        CheckConstraint(f"e164 ~ '{E164_CHECK}'", name="e164"),
        one_of("kind", PhoneKind),
        _trigram_index("ix_contact_phones_e164_trgm", "e164"),
    )

    id: Mapped[IntPK]
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    raw: Mapped[str] = mapped_column(comment="as typed or imported")
    e164: Mapped[str] = mapped_column(unique=True)
    kind: Mapped[str] = mapped_column(server_default=PhoneKind.MOBILE.value)

    contact: Mapped[Contact] = relationship(back_populates="phones", lazy="raise")


class ContactEmail(CreatedAtMixin, Base):
    __tablename__ = "contact_emails"
    __table_args__ = (
        CheckConstraint("email = lower(email) AND email LIKE '%_@_%'", name="email"),
        _trigram_index("ix_contact_emails_email_trgm", "email"),
    )

    id: Mapped[IntPK]
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(unique=True, comment="stored lower-cased")

    contact: Mapped[Contact] = relationship(back_populates="emails", lazy="raise")


# the trigram indexes above need pg_trgm; migration 0002 creates it the same way
_PG_TRGM = DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # type: ignore[no-untyped-call]
event.listen(Base.metadata, "before_create", _PG_TRGM)
