"""Wrapped data keys (the privacy engine's key store) and blind-index plans, as tables of the application
database."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from rfl.db import Base, CreatedAt, IdMixin, UTCDateTime


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


class BlindIndexPlan(IdMixin, Base):
    """The truncation of one society's blind index under one index-key version (``rfl.crypto.planning``):
    fixed when the version is first used, so every value under it has the same length."""

    __tablename__ = "blind_index_plans"
    __table_args__ = (
        sa.UniqueConstraint(
            "society_id", "key_version", "index_name", "index_version", name="uq_blind_index_plans_version"
        ),
    )

    society_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("societies.id"))
    key_version: Mapped[int]
    index_name: Mapped[str] = mapped_column(sa.String(32))
    index_version: Mapped[int]
    # The distinct terms the plan was made for, and the bits that leave two of them per value.
    expected_terms: Mapped[int]
    bits: Mapped[int]
    created_at: Mapped[CreatedAt]
