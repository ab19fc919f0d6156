"""The window a report covers and the calendar periods (UTC) its rows are counted in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

# A report has at most this many periods (20 years of months): more is a mistake, not a report.
MAX_PERIODS = 240
# Years a report's window may reach (what the records' dates can be).
FIRST_YEAR, LAST_YEAR = 1900, 2999


class Granularity(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


def period_label(day: date, granularity: Granularity) -> str:
    """``2026-03``, ``2026-Q1`` or ``2026``: the period ``day`` falls in."""
    if granularity is Granularity.MONTH:
        return f"{day.year:04d}-{day.month:02d}"
    if granularity is Granularity.QUARTER:
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year:04d}"


def _next_period_start(day: date, granularity: Granularity) -> date:
    months = {Granularity.MONTH: 1, Granularity.QUARTER: 3, Granularity.YEAR: 12}[granularity]
    first_month = day.month if granularity is Granularity.MONTH else 1
    if granularity is Granularity.QUARTER:
        first_month = (day.month - 1) // 3 * 3 + 1
    index = day.year * 12 + first_month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Window:
    """The days ``start`` to ``end`` (both included, UTC), counted per ``granularity``. A first or last
    period the window only partly covers is counted for the covered days only."""

    start: date
    end: date
    granularity: Granularity

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(), tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """The first moment after the window."""
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=UTC)

    def periods(self) -> tuple[str, ...]:
        labels = []
        day = self.start
        while day <= self.end:
            labels.append(period_label(day, self.granularity))
            day = _next_period_start(day, self.granularity)
        return tuple(labels)

    def period_of(self, moment: datetime) -> str:
        return period_label(moment.astimezone(UTC).date(), self.granularity)

    def period_of_month(self, month: str) -> str:
        """The period of a ``YYYY-MM`` month."""
        year, number = month.split("-")
        return period_label(date(int(year), int(number), 1), self.granularity)

    def problems(self) -> dict[str, list[str]]:
        """What is wrong with the window, by parameter name (empty when it is fine)."""
        for name, day in (("from", self.start), ("to", self.end)):
            if not FIRST_YEAR <= day.year <= LAST_YEAR:
                return {name: [f"Must be a date from {FIRST_YEAR} to {LAST_YEAR}."]}
        if self.start > self.end:
            return {"from": ["Must not be after `to`."]}
        if len(self.periods()) > MAX_PERIODS:
            return {
                "granularity": [f"At most {MAX_PERIODS} periods; choose a shorter window or coarser periods."]
            }
        return {}
