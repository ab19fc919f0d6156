"""Wrapped data keys: the privacy engine's key store, as a table of the application database."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from rfl.db import Base, UTCDateTime


class DataKey(Base):
    """A wrapped data key of one data subject (the privacy engine's key store, on this database)."""

    __tablename__ = "data_keys"

    ring_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    subject_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    dek_version: Mapped[int] = mapped_column(primary_key=True)
    kek_version: Mapped[int] = mapped_column(index=True)
    wrapped: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<DataKey subject={self.subject_id} v{self.dek_version}>"
