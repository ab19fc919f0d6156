"""Claiming, remembering and purging idempotency keys.

Only the created object's id is remembered, never the response body: the body may hold personal data
that must stay encrypted and erasable, so a replay renders the object afresh. Keys and request
fingerprints are kept as keyed hashes, and expired rows are purged in bounded batches.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from privacy import keyed_hash
from rfl.errors import Conflict, ValidationFailed
from rfl.idempotency.models import IdempotencyRecord
from rfl.identity import Actor

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_WINDOW = timedelta(hours=24)
MAX_KEY_LENGTH = 255
# Expired rows removed by each claim: bounded, so no request pays for a large backlog.
PURGE_BATCH_ON_WRITE = 100


def key_hash(secret: bytes, actor: Actor, key: str) -> bytes:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationFailed(
            {IDEMPOTENCY_HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."]}
        )
    return keyed_hash(secret, "idempotency-key", str(actor.user_id), key)


def request_fingerprint(secret: bytes, method: str, path: str, body: bytes) -> bytes:
    return keyed_hash(secret, "idempotency-request", method, path, body)


def claim_key(
    session: Session, actor: Actor, hashed_key: bytes, fingerprint: bytes, now: datetime
) -> uuid.UUID | None:
    """Return the id created by an earlier request with this key, or claim the key for this one."""
    purge_expired(session, now, limit=PURGE_BATCH_ON_WRITE)
    existing = session.scalar(
        sa.select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == actor.user_id, IdempotencyRecord.key_hash == hashed_key
        )
    )
    if existing is not None and existing.expires_at > now:
        if existing.fingerprint != fingerprint:
            raise ValidationFailed(
                {IDEMPOTENCY_HEADER: ["This key was already used for a different request."]}
            )
        if existing.resource_id is None:
            raise Conflict("A request with this Idempotency-Key is still being processed; retry later.")
        return existing.resource_id
    if existing is not None:
        session.delete(existing)
        session.flush()
    record = IdempotencyRecord(
        user_id=actor.user_id,
        key_hash=hashed_key,
        fingerprint=fingerprint,
        expires_at=now + IDEMPOTENCY_WINDOW,
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        # A concurrent request with the same key committed first.
        raise Conflict("A request with this Idempotency-Key is still being processed; retry later.") from None
    return None


def remember_result(session: Session, actor: Actor, hashed_key: bytes, resource_id: uuid.UUID) -> None:
    session.execute(
        sa.update(IdempotencyRecord)
        .where(IdempotencyRecord.user_id == actor.user_id, IdempotencyRecord.key_hash == hashed_key)
        .values(resource_id=resource_id)
    )


def purge_expired(session: Session, now: datetime, *, limit: int) -> int:
    """Delete at most ``limit`` expired keys; returns how many went."""
    expired: Sequence[uuid.UUID] = session.scalars(
        sa.select(IdempotencyRecord.id).where(IdempotencyRecord.expires_at <= now).limit(limit)
    ).all()
    if expired:
        session.execute(sa.delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(expired)))
    return len(expired)
