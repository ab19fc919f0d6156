"""Keyset pagination: ``{items, next_cursor}`` pages that stay stable while rows are added."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

from rfl.errors import ValidationFailed

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def encode_cursor(created_at: datetime, object_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(object_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, object_id = json.loads(base64.urlsafe_b64decode(padded))
        when = datetime.fromisoformat(created_at)
        if when.tzinfo is None:
            raise ValueError("cursor timestamps are aware")
        when.astimezone(UTC)  # raises OverflowError at the edges of the calendar
        return when, uuid.UUID(object_id)
    except (ValueError, TypeError, OverflowError, binascii.Error):
        raise ValidationFailed({"cursor": ["Not a cursor returned by this API."]}) from None


def paginate(
    session: Session,
    statement: sa.Select[T],
    *,
    created_at: InstrumentedAttribute[datetime],
    object_id: InstrumentedAttribute[uuid.UUID],
    limit: int,
    cursor: str | None,
) -> Page[T]:
    """Return one page of ``statement`` ordered by (created_at, id), starting after ``cursor``."""
    if cursor:
        after_created, after_id = decode_cursor(cursor)
        statement = statement.where(
            sa.or_(created_at > after_created, sa.and_(created_at == after_created, object_id > after_id))
        )
    rows: list[Any] = list(session.scalars(statement.order_by(created_at, object_id).limit(limit + 1)))
    if len(rows) <= limit:
        return Page(items=rows, next_cursor=None)
    last = rows[limit - 1]
    return Page(items=rows[:limit], next_cursor=encode_cursor(last.created_at, last.id))
