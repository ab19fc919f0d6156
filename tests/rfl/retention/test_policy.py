"""Retention periods: categories, expiry dates, a society's own periods over the defaults."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask.testing import FlaskClient

from rfl.accounts.models import Role
from rfl.retention.policy import Category, RecordSkeleton, RetentionPolicy, expiry_date, parse_periods
from tests.conftest import Factories

CREATED = datetime(2020, 3, 1, tzinfo=UTC)
CLOSED = datetime(2021, 6, 30, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("skeleton", "expected"),
    [
        (RecordSkeleton("tracing_request", "open", CREATED, None, matched=False), None),
        (RecordSkeleton("tracing_request", "awaiting_consent", CREATED, None, matched=True), None),
        (RecordSkeleton("tracing_request", "closed", CREATED, CLOSED, matched=False), date(2026, 6, 29)),
        (RecordSkeleton("tracing_request", "disclosed", CREATED, CLOSED, matched=True), date(2023, 6, 30)),
        (RecordSkeleton("sighting", "open", CREATED, None, matched=False), date(2025, 2, 28)),
        (RecordSkeleton("sighting", "open", CREATED, None, matched=False, deceased=True), date(2045, 2, 23)),
        (RecordSkeleton("sighting", "open", CREATED, None, matched=True), None),
        (RecordSkeleton("sighting", "closed", CREATED, CLOSED, matched=True), date(2023, 6, 30)),
    ],
)
def test_expiry_dates_under_the_defaults(skeleton: RecordSkeleton, expected: date | None) -> None:
    assert expiry_date(skeleton, RetentionPolicy()) == expected


def test_a_category_kept_without_limit_never_expires() -> None:
    skeleton = RecordSkeleton("tracing_request", "closed", CREATED, CLOSED, matched=False)
    policy = RetentionPolicy(parse_periods("request_closed_unmatched=never, request_disclosed=30"))

    assert expiry_date(skeleton, policy) is None
    assert policy.period(Category.REQUEST_DISCLOSED) == 30


@pytest.mark.parametrize("text", ["nonsense=3", "request_disclosed=0", "request_disclosed=ten"])
def test_bad_periods_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"request_disclosed|nonsense"):
        parse_periods(text)


def test_an_admin_sets_the_societys_own_periods(client: FlaskClient, make: Factories) -> None:
    society = make.society("DE", country="DE")
    admin = make.actor_headers(Role.ADMIN, society)

    refused = client.put(
        "/api/v1/retention-policy", headers=admin, json={"periods": {"request_disclosed": 0}}
    )
    by_officer = client.get(
        "/api/v1/retention-policy", headers=make.actor_headers(Role.TRACING_OFFICER, society)
    )
    changed = client.put(
        "/api/v1/retention-policy",
        headers=admin,
        json={"periods": {"request_disclosed": 365, "sighting_unmatched": "never"}},
    )
    read = client.get("/api/v1/retention-policy", headers=admin)

    assert refused.status_code == 422
    assert by_officer.status_code == 403
    assert changed.status_code == read.status_code == 200
    periods = {row["category"]: row for row in read.json["periods"]}
    assert periods["request_disclosed"] == {
        "category": "request_disclosed",
        "days": 365,
        "default": 730,
        "own": True,
    }
    assert periods["sighting_unmatched"]["days"] == "never"
    assert periods["request_closed_unmatched"] == {
        "category": "request_closed_unmatched",
        "days": 1825,
        "default": 1825,
        "own": False,
    }
