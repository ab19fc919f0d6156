"""Outbox messages: a topic and the id of the object it is about, never personal data."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from rfl.db import Base, CreatedAt, IdMixin, UTCDateTime


class OutboxMessage(IdMixin, Base):
    """One piece of follow-up work, pending until a worker completes (and deletes) it.

    ``relayed_at`` is set when the message was handed to a task queue; a sweep hands it over again
    when no worker completed it in time (a lost task, a crashed worker).
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (sa.Index("ix_outbox_messages_pending", "topic", "created_at"),)

    topic: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    created_at: Mapped[CreatedAt]
    relayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<OutboxMessage id={self.id} topic={self.topic}>"
