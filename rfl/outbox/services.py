"""Writing to and taking from the outbox.

``enqueue`` runs inside the transaction of the change that needs follow-up work. A worker takes a
message, does the work in its own transaction and deletes the message in that same transaction, so
the work is done exactly when the message is gone. Duplicate deliveries (a relay repeated after a
crash) are harmless because the work is idempotent and a message already gone is skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rfl.outbox.models import OutboxMessage


def enqueue(session: Session, topic: str, object_type: str, object_id: uuid.UUID) -> None:
    """Record follow-up work about ``object_id``.

    Always a new message, even if one about the same object waits: a worker may be processing the
    earlier one from a snapshot taken before this change, and deleting it must not lose this change.
    """
    session.add(OutboxMessage(topic=topic, object_type=object_type, object_id=object_id))
    session.flush()


def pending_ids(session: Session, topic: str, *, limit: int, max_attempts: int) -> Sequence[uuid.UUID]:
    """The oldest pending messages of ``topic`` (relayed or not) not yet failed ``max_attempts`` times."""
    return session.scalars(
        sa.select(OutboxMessage.id)
        .where(OutboxMessage.topic == topic, OutboxMessage.attempts < max_attempts)
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
        .limit(limit)
    ).all()


def to_relay(
    session: Session, topic: str, *, now: datetime, stale_after: timedelta, limit: int
) -> list[OutboxMessage]:
    """Messages to hand to the task queue: never relayed, or relayed so long ago that the task was lost."""
    return list(
        session.scalars(
            sa.select(OutboxMessage)
            .where(
                OutboxMessage.topic == topic,
                sa.or_(OutboxMessage.relayed_at.is_(None), OutboxMessage.relayed_at < now - stale_after),
            )
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
            .limit(limit)
        )
    )


def take(session: Session, message_id: uuid.UUID, *, skip_locked: bool = False) -> OutboxMessage | None:
    """The message, locked for this transaction (None if it is gone: another worker completed it).

    A message another transaction holds (a worker processing a repeated delivery) is waited for, not
    skipped: only once that transaction ended can "gone" be told from "still to do". A drain passes
    ``skip_locked``: it goes on to the next message while another drain works on this one (None), and
    a drain or sweep later takes it if that one failed. SQLite serialises writers anyway.
    """
    statement = sa.select(OutboxMessage).where(OutboxMessage.id == message_id)
    message = session.scalar(statement.with_for_update(skip_locked=skip_locked))
    if message is not None:
        message.attempts += 1
    return message


def complete(session: Session, message: OutboxMessage) -> None:
    session.delete(message)
    session.flush()


def backlog(session: Session) -> int:
    """How many messages wait (for /healthz)."""
    return session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) or 0


def discard_for(session: Session, object_ids: Sequence[uuid.UUID]) -> None:
    """Drop every message about these objects (their subject was erased)."""
    session.execute(sa.delete(OutboxMessage).where(OutboxMessage.object_id.in_(list(object_ids))))
