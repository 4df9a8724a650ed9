"""The client base: companies, contacts and their phones and e-mails."""

from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text, text
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
    __table_args__ = (CheckConstraint("email = lower(email) AND email LIKE '%_@_%'", name="email"),)

    id: Mapped[IntPK]
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(unique=True, comment="stored lower-cased")

    contact: Mapped[Contact] = relationship(back_populates="emails", lazy="raise")
