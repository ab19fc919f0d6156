"""``Idempotency-Key`` for every creating POST (api.md): a retry within 24 h returns the first result.

Only the created object's id is remembered, never the response body: the body may hold personal data
that must stay encrypted and erasable, so a replay renders the object afresh.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, hmac
from flask import current_app, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from rfl.accounts.services import Actor
from rfl.clock import now
from rfl.db import Base, CreatedAt, IdMixin, UTCDateTime, db
from rfl.errors import Conflict, ValidationFailed
from rfl.http.auth import current_actor

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_WINDOW = timedelta(hours=24)
MAX_KEY_LENGTH = 255

P = ParamSpec("P")


R = TypeVar("R")


class IdempotencyRecord(IdMixin, Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "key"),)

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(MAX_KEY_LENGTH))
    # Keyed hash of method, path and body: detects a key reused for a different request.
    fingerprint: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    resource_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    created_at: Mapped[CreatedAt]
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def idempotent(
    load: Callable[[Session, Actor, uuid.UUID], R],
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Make a creating view idempotent; ``load`` fetches the object a replay returns.

    Place it below ``@blp.response`` so a replayed object is serialised exactly like a new one.
    """

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            key = request.headers.get(IDEMPOTENCY_HEADER)
            if key is None:
                return view(*args, **kwargs)
            session, actor = db.session, current_actor()
            requested_at = now()
            _validate_key(key)
            fingerprint = _fingerprint(current_app.config["SECRET_KEY"])
            previous = _claim_key(session, actor, key, fingerprint, requested_at)
            if previous is not None:
                return load(session, actor, previous)
            created = view(*args, **kwargs)
            _remember_result(session, actor, key, _created_id(created))
            return created

        return wrapper

    return decorator


def _created_id(created: object) -> uuid.UUID:
    """The id of what a view created: a mapped object, or a representation mapping with an ``id``."""
    if isinstance(created, tuple):
        created = created[0]
    if isinstance(created, Mapping):
        return uuid.UUID(str(created["id"]))
    return uuid.UUID(str(getattr(created, "id")))  # noqa: B009 (any object with an id)


def _validate_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationFailed(
            {IDEMPOTENCY_HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."]}
        )


def _fingerprint(secret_key: str) -> bytes:
    mac = hmac.HMAC(secret_key.encode(), hashes.SHA256())
    for part in (request.method.encode(), request.path.encode(), request.get_data()):
        mac.update(len(part).to_bytes(8, "big") + part)
    return mac.finalize()


def _claim_key(
    session: Session, actor: Actor, key: str, fingerprint: bytes, now: datetime
) -> uuid.UUID | None:
    """Return the id created by an earlier request with this key, or claim the key for this one."""
    existing = session.scalar(
        sa.select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == actor.user_id, IdempotencyRecord.key == key
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
    record = IdempotencyRecord(
        user_id=actor.user_id, key=key, fingerprint=fingerprint, expires_at=now + IDEMPOTENCY_WINDOW
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        # A concurrent request with the same key committed first.
        raise Conflict("A request with this Idempotency-Key is still being processed; retry later.") from None
    return None


def _remember_result(session: Session, actor: Actor, key: str, resource_id: uuid.UUID) -> None:
    session.execute(
        sa.update(IdempotencyRecord)
        .where(IdempotencyRecord.user_id == actor.user_id, IdempotencyRecord.key == key)
        .values(resource_id=resource_id)
    )
