"""Keyset pagination, the one way every list pages: ``{items, next_cursor}`` that stays stable while rows
are added.

A page is ordered by a tuple of columns that together are unique (e.g. ``(created_at, id)``, or an audit
entry's ``seq``); the cursor carries the last row's values of those columns, so the next page starts
strictly after it whatever was inserted meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

from rfl.errors import ValidationFailed

T = TypeVar("T")
MAX_CURSOR_INTEGER = 2**63
# Rows read at a time for a page whose rows are kept or left out after reading (``keep``).
KEPT_BATCH = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def paginate(
    session: Session,
    statement: sa.Select[T],
    *,
    order_by: Sequence[InstrumentedAttribute[Any]],
    limit: int,
    cursor: str | None,
    descending: bool = False,
    keep: Callable[[Sequence[T]], Sequence[T]] | None = None,
) -> Page[T]:
    """One page of ``statement`` in ``order_by`` order (ascending, or ``descending`` on every column),
    starting after ``cursor``.

    ``keep``: the rows of those given (in order) the caller may show, for a check no SQL can make (a
    seal read in Python); rows are read on until the page holds ``limit`` kept ones or none are left,
    so hidden rows never leave a page short while more follow, and the cursor carries on after the last
    row looked at."""
    if cursor:
        statement = statement.where(_after(order_by, decode_cursor(cursor, order_by), descending))
    ordering = [column.desc() if descending else column for column in order_by]
    statement = statement.order_by(*ordering)
    if keep is None:
        rows: list[Any] = list(session.scalars(statement.limit(limit + 1)))
        if len(rows) <= limit:
            return Page(items=rows, next_cursor=None)
        return Page(items=rows[:limit], next_cursor=_cursor_of(rows[limit - 1], order_by))
    return _kept_page(session, statement, order_by=order_by, limit=limit, descending=descending, keep=keep)


def _kept_page(
    session: Session,
    statement: sa.Select[T],
    *,
    order_by: Sequence[InstrumentedAttribute[Any]],
    limit: int,
    descending: bool,
    keep: Callable[[Sequence[T]], Sequence[T]],
) -> Page[T]:
    """Read on until ``limit`` rows are kept and one more (so a cursor always leads to a row shown)."""
    batch = max(limit, KEPT_BATCH)
    items: list[T] = []
    read = statement
    while True:
        rows: list[Any] = list(session.scalars(read.limit(batch)))
        kept = {id(row) for row in keep(rows)}
        items.extend(row for row in rows if id(row) in kept)
        if len(items) > limit:
            return Page(items=items[:limit], next_cursor=_cursor_of(items[limit - 1], order_by))
        if len(rows) < batch:
            return Page(items=items, next_cursor=None)
        read = statement.where(_after(order_by, [getattr(rows[-1], c.key) for c in order_by], descending))


def _cursor_of(row: Any, order_by: Sequence[InstrumentedAttribute[Any]]) -> str:
    return encode_cursor([getattr(row, c.key) for c in order_by])


def _after(
    columns: Sequence[InstrumentedAttribute[Any]], values: Sequence[Any], descending: bool
) -> sa.ColumnElement[bool]:
    """Rows strictly after ``values`` in the lexicographic order of ``columns``."""
    head, *rest = columns
    later: sa.ColumnElement[bool] = head < values[0] if descending else head > values[0]
    if not rest:
        return later
    return sa.or_(later, sa.and_(head == values[0], _after(rest, values[1:], descending)))


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(value) for value in values]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def decode_cursor(cursor: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    """The values a cursor carries, typed like ``columns``; a 422 for anything this API did not issue."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError("wrong shape")
        return [_decode_value(value, column) for value, column in zip(values, columns, strict=True)]
    except (ValueError, TypeError, OverflowError, binascii.Error):
        raise ValidationFailed({"cursor": ["Not a cursor returned by this API."]}) from None


def _decode_value(value: Any, column: InstrumentedAttribute[Any]) -> Any:
    python_type = column.type.python_type
    if python_type is datetime:
        when = datetime.fromisoformat(value)
        if when.tzinfo is None:
            raise ValueError("cursor timestamps are aware")
        return when.astimezone(UTC)  # raises OverflowError at the edges of the calendar
    if python_type is uuid.UUID:
        return uuid.UUID(value)
    if python_type is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("not a cursor number")
        return float(value)
    if python_type is int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_CURSOR_INTEGER:
            raise ValueError("not a cursor integer")
        return value
    raise TypeError("unsupported cursor column")
