"""Saved client filters: a list to read, to export, or to dial."""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import EMPTY_OBJECT, Base, CreatedAtMixin, IntPK, Json, UpdatedAtMixin


class Segment(CreatedAtMixin, UpdatedAtMixin, Base):
    __tablename__ = "segments"

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(unique=True)
    # validated by callcenter.segments before it is stored
    filters: Mapped[Json] = mapped_column(server_default=EMPTY_OBJECT)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
