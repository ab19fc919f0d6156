"""Report windows and their calendar periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from rfl.reports.periods import Granularity, Window, period_label


@pytest.mark.parametrize(
    ("granularity", "expected"),
    [
        (Granularity.MONTH, ("2025-11", "2025-12", "2026-01", "2026-02")),
        (Granularity.QUARTER, ("2025-Q4", "2026-Q1")),
        (Granularity.YEAR, ("2025", "2026")),
    ],
)
def test_a_window_lists_every_period_it_touches(granularity: Granularity, expected: tuple[str, ...]) -> None:
    window = Window(date(2025, 11, 15), date(2026, 2, 1), granularity)

    assert window.periods() == expected
    assert window.problems() == {}


def test_moments_fall_in_their_utc_period_and_the_window_ends_after_its_last_day() -> None:
    window = Window(date(2026, 1, 1), date(2026, 3, 31), Granularity.QUARTER)
    late_on_new_years_eve_in_new_york = datetime(2025, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))

    assert window.period_of(late_on_new_years_eve_in_new_york) == "2026-Q1"  # 04:30 UTC on 1 January
    assert [window.period_of_month(m) for m in ("2025-12", "2026-03", "2026-04")] == [
        "2025-Q4",
        "2026-Q1",
        "2026-Q2",
    ]
    assert window.since == datetime(2026, 1, 1, tzinfo=UTC)
    assert window.until == datetime(2026, 4, 1, tzinfo=UTC)
    assert [period_label(date(2026, m, 1), Granularity.QUARTER) for m in (3, 4, 12)] == [
        "2026-Q1",
        "2026-Q2",
        "2026-Q4",
    ]


def test_bad_windows_say_what_is_wrong() -> None:
    assert Window(date(2026, 2, 1), date(2026, 1, 1), Granularity.MONTH).problems() == {
        "from": ["Must not be after `to`."]
    }
    assert "granularity" in Window(date(1990, 1, 1), date(2026, 1, 1), Granularity.MONTH).problems()
    assert Window(date(1990, 1, 1), date(2026, 1, 1), Granularity.YEAR).problems() == {}
    assert "to" in Window(date(2026, 1, 1), date(3000, 1, 1), Granularity.YEAR).problems()
