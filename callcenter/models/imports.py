"""Contact imports: who loaded which file, how far it got, and the rows it refused."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, func, text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import EMPTY_OBJECT, Base, IntPK, Json, one_of


class ImportStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # nothing was imported: the whole file rolled back


class ContactImport(Base):
    __tablename__ = "contact_imports"
    __table_args__ = (one_of("status", ImportStatus),)

    id: Mapped[IntPK]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    file_name: Mapped[str]
    status: Mapped[str] = mapped_column(server_default=ImportStatus.RUNNING.value)
    started_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
    finished_at: Mapped[datetime | None]
    rows_total: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    duplicates: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    rejected: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # column mapping, encoding, delimiter, the per-row problems, or why it failed
    report: Mapped[Json] = mapped_column(server_default=EMPTY_OBJECT)
