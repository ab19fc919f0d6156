"""Remembered idempotency keys: only keyed hashes of the key and of the request, and the created id."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from rfl.db import Base, CreatedAt, IdMixin, UTCDateTime


class IdempotencyRecord(IdMixin, Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "key_hash"),)

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    # Keyed hash of the client's key: a key may be anything a client chose, so it is never stored.
    key_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    # Keyed hash of method, path and body: detects a key reused for a different request.
    fingerprint: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    resource_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    created_at: Mapped[CreatedAt]
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
