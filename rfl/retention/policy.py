"""Retention periods: which period applies to a record (by type and outcome) and when it ends.

Pure: no database, no Flask. The settings hold the installation's defaults (``RFL_RETENTION_DAYS``
over the built-in ones below), a society may override them (``PUT /api/v1/retention-policy``), and
``expiry_date`` says when a record's personal data is due for erasure. The interchange exports read
the same function for a record's PFIF ``expiry_date``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

# The longest period a society may set (a hundred years): beyond it "never" says what is meant.
MAX_DAYS = 36_500
NEVER = "never"


class Category(StrEnum):
    """A record type with an outcome: each has its own period, counted from its own event."""

    # A tracing request closed without a confirmed match (from closing).
    REQUEST_CLOSED_UNMATCHED = "request_closed_unmatched"
    # A tracing request closed after a confirmed match, e.g. the found person wished no contact.
    REQUEST_CLOSED_MATCHED = "request_closed_matched"
    # A tracing request whose family was answered (from the disclosure that closed it).
    REQUEST_DISCLOSED = "request_disclosed"
    # A sighting never matched, of a person alive, detained or hospitalised (from registration).
    SIGHTING_UNMATCHED = "sighting_unmatched"
    # A sighting never matched of a deceased person (from registration).
    SIGHTING_DECEASED_UNMATCHED = "sighting_deceased_unmatched"
    # A sighting with a confirmed match, closed (from closing).
    SIGHTING_MATCHED_CLOSED = "sighting_matched_closed"


# Built-in defaults in days; the README says why each is what it is. None: kept without a time limit.
DEFAULT_DAYS: Mapping[Category, int | None] = {
    Category.REQUEST_CLOSED_UNMATCHED: 5 * 365,
    Category.REQUEST_CLOSED_MATCHED: 2 * 365,
    Category.REQUEST_DISCLOSED: 2 * 365,
    Category.SIGHTING_UNMATCHED: 5 * 365,
    Category.SIGHTING_DECEASED_UNMATCHED: 25 * 365,
    Category.SIGHTING_MATCHED_CLOSED: 2 * 365,
}
# Categories counted from when the record closed; the others from when it was registered.
_FROM_CLOSING = frozenset(
    {
        Category.REQUEST_CLOSED_UNMATCHED,
        Category.REQUEST_CLOSED_MATCHED,
        Category.REQUEST_DISCLOSED,
        Category.SIGHTING_MATCHED_CLOSED,
    }
)


@dataclass(frozen=True)
class RetentionPolicy:
    """Days per category (None: no time limit); categories not named keep the built-in default."""

    days: Mapping[Category, int | None] = field(default_factory=dict)

    def period(self, category: Category) -> int | None:
        return self.days[category] if category in self.days else DEFAULT_DAYS[category]

    def over(self, overrides: Mapping[Category, int | None]) -> RetentionPolicy:
        """This policy with some categories set otherwise (a society's own periods)."""
        return RetentionPolicy({**self.days, **overrides})


@dataclass(frozen=True)
class RecordSkeleton:
    """What retention needs to know of a record: its plain columns and whether it was matched."""

    record_type: str  # "tracing_request" or "sighting"
    status: str  # open, awaiting_consent, disclosed, closed
    created_at: datetime
    closed_at: datetime | None
    # Whether a candidate of the record was confirmed (by one or two officers).
    matched: bool
    deceased: bool = False


def category_of(skeleton: RecordSkeleton) -> Category | None:
    """The record's retention category; None while its case is live (open, awaiting consent, or a
    matched sighting whose case goes on), when no period runs."""
    if skeleton.record_type == "tracing_request":
        if skeleton.status == "disclosed":
            return Category.REQUEST_DISCLOSED
        if skeleton.status == "closed":
            return Category.REQUEST_CLOSED_MATCHED if skeleton.matched else Category.REQUEST_CLOSED_UNMATCHED
        return None
    if skeleton.matched:
        return Category.SIGHTING_MATCHED_CLOSED if skeleton.status in ("closed", "disclosed") else None
    return Category.SIGHTING_DECEASED_UNMATCHED if skeleton.deceased else Category.SIGHTING_UNMATCHED


def expiry_date(skeleton: RecordSkeleton, policy: RetentionPolicy) -> date | None:
    """The day the record's personal data is due for erasure under ``policy``; None when no period
    runs (a live case, or a category kept without a time limit)."""
    category = category_of(skeleton)
    if category is None:
        return None
    days = policy.period(category)
    if days is None:
        return None
    start = skeleton.closed_at if category in _FROM_CLOSING else skeleton.created_at
    if start is None:  # a final status always has its closing date; be safe and never expire early
        return None
    return (start + timedelta(days=days)).date()


def parse_periods(text: str) -> dict[Category, int | None]:
    """``category=days`` pairs separated by commas (``never`` for no time limit); ValueError naming
    the bad part (categories and numbers only, never personal data)."""
    periods: dict[Category, int | None] = {}
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        name, _, value = part.partition("=")
        try:
            category = Category(name.strip())
        except ValueError:
            raise ValueError(f"unknown retention category {name.strip()!r}") from None
        periods[category] = parse_days(value.strip(), name=category.value)
    return periods


def parse_days(value: str, *, name: str) -> int | None:
    if value == NEVER:
        return None
    if not value.isdigit() or not 1 <= int(value) <= MAX_DAYS:
        raise ValueError(f"{name}: a number of days from 1 to {MAX_DAYS}, or {NEVER!r}")
    return int(value)
