"""One keyset pagination for every list: stable pages over any unique column order, forged cursors 422."""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy as sa
from flask import Flask

from rfl import pagination
from rfl.accounts.models import Society
from rfl.audit.models import AuditEvent
from rfl.db import db
from rfl.errors import ValidationFailed
from rfl.pagination import decode_cursor, encode_cursor, paginate
from tests.conftest import Factories
from tests.rfl.audit.conftest import fill_log


def raw_cursor(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_pages_by_created_at_and_id_cover_every_row_once(app: Flask, make: Factories) -> None:
    made = {make.society().id for _ in range(5)}
    seen: list[object] = []
    cursor = None
    with app.app_context():
        while True:
            page = paginate(
                db.session,
                sa.select(Society).where(Society.id.in_(made)),
                order_by=(Society.created_at, Society.id),
                limit=2,
                cursor=cursor,
            )
            seen.extend(society.id for society in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break

    assert sorted(map(str, seen)) == sorted(map(str, made))
    assert len(seen) == len(made)


def test_pages_by_a_single_integer_column(app: Flask) -> None:
    fill_log(app, 5)
    with app.app_context():
        first = paginate(db.session, sa.select(AuditEvent), order_by=(AuditEvent.seq,), limit=3, cursor=None)
        second = paginate(
            db.session, sa.select(AuditEvent), order_by=(AuditEvent.seq,), limit=3, cursor=first.next_cursor
        )

    assert [event.seq for event in first.items] == [0, 1, 2]
    assert [event.seq for event in second.items] == [3, 4]
    assert second.next_cursor is None


@pytest.mark.parametrize("limit", [1, 2, 3, 150])
@pytest.mark.parametrize("hidden", [{1, 2, 3}, {0, 5, 6, 7}, {7}, set(range(8))])
def test_rows_left_out_after_reading_never_leave_a_page_short(
    app: Flask, monkeypatch: pytest.MonkeyPatch, limit: int, hidden: set[int]
) -> None:
    monkeypatch.setattr(pagination, "KEPT_BATCH", 2)  # several reads a page
    fill_log(app, 8)
    pages: list[list[int]] = []
    cursor = None
    with app.app_context():
        while True:
            page = paginate(
                db.session,
                sa.select(AuditEvent),
                order_by=(AuditEvent.seq,),
                limit=limit,
                cursor=cursor,
                keep=lambda events: [event for event in events if event.seq not in hidden],
            )
            pages.append([event.seq for event in page.items])
            cursor = page.next_cursor
            if cursor is None:
                break

    shown = [seq for page in pages for seq in page]
    assert shown == [seq for seq in range(8) if seq not in hidden]
    assert all(len(page) == limit for page in pages[:-1])  # full until the last
    assert pages[-1] or len(pages) == 1  # and no empty page at the end


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        raw_cursor({"seq": 1}),
        raw_cursor([1, 2]),
        raw_cursor(["1"]),
        raw_cursor([True]),
        raw_cursor([-1]),
        raw_cursor([2**63]),
    ],
)
def test_a_cursor_this_api_did_not_issue_is_a_validation_error(cursor: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        decode_cursor(cursor, (AuditEvent.seq,))

    assert refused.value.errors == {"cursor": ["Not a cursor returned by this API."]}


@pytest.mark.parametrize("when", ["2026-01-01T00:00:00", "9999-12-31T23:59:59-23:59", "yesterday"])
def test_timestamps_in_cursors_must_be_aware_and_in_range(when: str) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(
            raw_cursor([when, "00000000-0000-0000-0000-000000000000"]), (Society.created_at, Society.id)
        )


def test_descending_pages_continue_below_the_cursor(app: Flask) -> None:
    fill_log(app, 5)
    with app.app_context():
        first = paginate(
            db.session,
            sa.select(AuditEvent),
            order_by=(AuditEvent.seq,),
            limit=2,
            cursor=None,
            descending=True,
        )
        second = paginate(
            db.session,
            sa.select(AuditEvent),
            order_by=(AuditEvent.seq,),
            limit=2,
            cursor=first.next_cursor,
            descending=True,
        )

    assert [event.seq for event in first.items] == [4, 3]
    assert [event.seq for event in second.items] == [2, 1]


def test_a_cursor_round_trips_its_values() -> None:
    values = decode_cursor(encode_cursor([7]), (AuditEvent.seq,))

    assert values == [7]
