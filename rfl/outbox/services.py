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
    message = OutboxMessage(topic=topic, object_type=object_type, object_id=object_id)
    session.add(message)
    session.flush()
    session.info.setdefault(_ENQUEUED, []).append(message.id)


_ENQUEUED = "rfl_outbox_enqueued"


def enqueued(session: Session) -> list[uuid.UUID]:
    """The messages ``session`` enqueued: once they are committed, the process hands them on itself
    (drains or relays them) rather than leave them to a later sweep."""
    return list(session.info.get(_ENQUEUED, []))


def mark_relayed(
    session: Session, message_ids: Sequence[uuid.UUID], *, now: datetime
) -> list[tuple[uuid.UUID, str]]:
    """Mark these messages relayed, unless they are gone or were relayed already (a sweep came
    first); returns the id and topic of each message marked, the ones to publish."""
    marked = session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id.in_(list(message_ids)), OutboxMessage.relayed_at.is_(None))
        .values(relayed_at=now)
        .returning(OutboxMessage.id, OutboxMessage.topic)
    )
    return [(message_id, topic) for message_id, topic in marked]


def pending_ids(session: Session, topic: str, *, limit: int, max_attempts: int) -> Sequence[uuid.UUID]:
    """The oldest pending messages of ``topic`` (relayed or not) not yet failed ``max_attempts`` times."""
    return session.scalars(
        sa.select(OutboxMessage.id)
        .where(OutboxMessage.topic == topic, OutboxMessage.attempts < max_attempts)
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
        .limit(limit)
    ).all()


def to_relay(
    session: Session, topic: str, *, now: datetime, stale_after: timedelta, limit: int, max_attempts: int
) -> list[OutboxMessage]:
    """Messages to hand to the task queue: never relayed, or relayed so long ago that the task was lost,
    and not yet failed ``max_attempts`` times (one that always fails waits for an operator, as a drain
    leaves it: relayed again and again it would take a worker's time, and the relay's places, forever)."""
    return list(
        session.scalars(
            sa.select(OutboxMessage)
            .where(
                OutboxMessage.topic == topic,
                OutboxMessage.attempts < max_attempts,
                sa.or_(OutboxMessage.relayed_at.is_(None), OutboxMessage.relayed_at < now - stale_after),
            )
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
            .limit(limit)
        )
    )


def take(session: Session, message_id: uuid.UUID) -> OutboxMessage | None:
    """The message, locked for this transaction (None if it is gone); ``take_many`` with one id."""
    taken = take_many(session, [message_id])
    return taken[0] if taken else None


def take_many(
    session: Session, message_ids: Sequence[uuid.UUID], *, skip_locked: bool = False
) -> list[OutboxMessage]:
    """The messages still there, oldest first, locked for this transaction, each attempt counted.

    A message another transaction holds (a worker processing a repeated delivery) is waited for, not
    skipped: only once that transaction ended can "gone" be told from "still to do". A drain passes
    ``skip_locked``: it goes on with the others while another drain works on that one, and a drain or
    sweep later takes it if that one failed. Rows are locked in one order (oldest first), so two
    workers taking overlapping batches wait for each other and never deadlock. SQLite serialises
    writers anyway.
    """
    statement = (
        sa.select(OutboxMessage)
        .where(OutboxMessage.id.in_(list(message_ids)))
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    )
    messages = list(session.scalars(statement.with_for_update(skip_locked=skip_locked)))
    for message in messages:
        message.attempts += 1
    return messages


def complete(session: Session, messages: Sequence[OutboxMessage]) -> None:
    """Delete messages whose work is done (in the transaction that did it)."""
    for message in messages:
        session.delete(message)
    session.flush()


def backlog(session: Session) -> int:
    """How many messages wait (for /healthz)."""
    return session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) or 0


def discard_for(session: Session, object_ids: Sequence[uuid.UUID]) -> None:
    """Drop every message about these objects (their subject was erased)."""
    session.execute(sa.delete(OutboxMessage).where(OutboxMessage.object_id.in_(list(object_ids))))
