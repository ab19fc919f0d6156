"""Every figure of every report equals a count the test makes itself from the seeded specs (with a
threshold of 1 nothing is withheld, so every cell can be compared)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime

import numpy as np
import pytest
from flask import Flask

from privacy import ConsentMethod, ConsentStatus, Reason
from rfl.db import db
from rfl.disclosures.models import DisclosureOutcome
from rfl.matches.models import MatchStatus
from rfl.records.models import Condition, RecordStatus
from rfl.reports.periods import Granularity, Window
from rfl.reports.services import Report, ReportName, ReportQuery, run_report
from rfl.reports.tables import Figure, Table
from tests.conftest import unaudited
from tests.rfl.reports.conftest import CandidateSpec, Seeded

FIRST, LAST = date(2026, 1, 1), date(2026, 6, 30)
SINCE, UNTIL = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
MONTHS = ("2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06")


def run(
    app: Flask,
    name: ReportName,
    society: str | None = None,
    granularity: Granularity = Granularity.MONTH,
    threshold: int = 1,
) -> Report:
    with app.app_context(), db.transaction() as session:
        query = ReportQuery(name, society, Window(FIRST, LAST, granularity), "json")
        return run_report(session, None, query, threshold=threshold, audit=unaudited)


def label(moment: datetime, granularity: Granularity = Granularity.MONTH) -> str:
    if granularity is Granularity.QUARTER:
        return f"{moment.year}-Q{(moment.month + 2) // 3}"
    if granularity is Granularity.YEAR:
        return str(moment.year)
    return f"{moment.year}-{moment.month:02d}"


def inside(moment: datetime | None) -> bool:
    return moment is not None and SINCE <= moment < UNTIL


def assert_counts(
    table: Table, expected: Counter[tuple[str, str]], rows: Iterable[str], columns: Iterable[str]
) -> None:
    """Every cell, row total, column total and the grand total equal the expected counts."""
    rows, columns = list(rows), list(columns)
    assert list(table.rows) == [*rows, "total"]
    assert list(table.columns) == [*columns, "total"]
    for row in rows:
        for column in columns:
            assert table.figure(row, column).value == expected[(row, column)], (table.name, row, column)  # type: ignore[union-attr]
        assert table.figure(row, "total").value == sum(expected[(row, c)] for c in columns)  # type: ignore[union-attr]
    for column in columns:
        assert table.figure("total", column).value == sum(expected[(r, column)] for r in rows)  # type: ignore[union-attr]
    assert table.figure("total", "total").value == sum(expected[(r, c)] for r in rows for c in columns)  # type: ignore[union-attr]


def counted(items: Iterable[tuple[str, str]]) -> Counter[tuple[str, str]]:
    return Counter(items)


def owned_by(society: str | None) -> Callable[[str], bool]:
    return lambda code: society is None or code == society


def either_side(society: str | None, candidate: CandidateSpec) -> bool:
    return society is None or society in (candidate.request.society, candidate.sighting.society)


@pytest.mark.parametrize("society", [None, "IT"])
def test_tracing_activity_counts(app: Flask, seeded: Seeded, society: str | None) -> None:
    report = run(app, ReportName.TRACING_ACTIVITY, society)
    mine = owned_by(society)

    opened = counted(
        (label(r.created_at), r.status.value)
        for r in seeded.requests
        if inside(r.created_at) and mine(r.society)
    )
    closed = counted(
        (label(r.closed_at), r.status.value)  # type: ignore[arg-type]
        for r in seeded.requests
        if inside(r.closed_at) and mine(r.society)
    )
    registered = [s for s in seeded.sightings if inside(s.created_at) and mine(s.society)]
    conditions = [*(c.value for c in Condition), "not_recorded"]
    by_condition = counted(
        (label(s.created_at), s.condition.value if s.condition else "not_recorded") for s in registered
    )
    minors = counted(
        (label(s.created_at), s.condition.value if s.condition else "not_recorded")
        for s in registered
        if s.minor
    )

    assert sum(opened.values()) > 20  # the seed gives every table something to count
    assert_counts(report.table("tracing_requests_opened"), opened, MONTHS, (s.value for s in RecordStatus))
    assert_counts(report.table("tracing_requests_closed"), closed, MONTHS, ("closed", "disclosed"))
    assert_counts(report.table("sightings_by_condition"), by_condition, MONTHS, conditions)
    assert_counts(report.table("minor_sightings_by_condition"), minors, MONTHS, conditions)


@pytest.mark.parametrize("society", [None, "DE"])
def test_waiting_times_are_the_median_and_90th_percentile_of_each_cohort(
    app: Flask, seeded: Seeded, society: str | None
) -> None:
    report = run(app, ReportName.TRACING_ACTIVITY, society)
    mine = owned_by(society)
    requests = [r for r in seeded.requests if inside(r.created_at) and mine(r.society)]
    proposals: dict[str, list[float]] = defaultdict(list)
    confirmations: dict[str, list[float]] = defaultdict(list)
    disclosures: dict[str, list[float]] = defaultdict(list)
    for request in requests:
        candidates = [c for c in seeded.candidates if c.request is request]
        if candidates:
            proposals[label(request.created_at)].append(
                days(request.created_at, min(c.created_at for c in candidates))
            )
        for candidate in candidates:
            if candidate.status is MatchStatus.CONFIRMED:
                happened = candidate.approved_at or candidate.confirmed_at
                confirmations[label(request.created_at)].append(days(request.created_at, happened))  # type: ignore[arg-type]
        allowed = [
            d.decided_at
            for d in seeded.disclosures
            if d.candidate.request is request and d.outcome is DisclosureOutcome.ALLOWED
        ]
        if allowed:
            disclosures[label(request.created_at)].append(days(request.created_at, min(allowed)))

    for name, expected in (
        ("time_to_first_proposal", proposals),
        ("time_to_confirmation", confirmations),
        ("time_to_disclosure", disclosures),
    ):
        table = report.table(name)
        for period in (*MONTHS, "total"):
            values = (
                [v for values in expected.values() for v in values] if period == "total" else expected[period]
            )
            assert "n" not in table.columns
            if values:
                assert table.figure(period, "median_days").value == pytest.approx(
                    np.median(values), abs=0.051
                )  # type: ignore[union-attr]
                assert table.figure(period, "p90_days").value == pytest.approx(
                    np.percentile(values, 90), abs=0.051
                )  # type: ignore[union-attr]
            else:
                assert table.figure(period, "median_days") == Figure(None, suppressed=True)


def days(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 86400


@pytest.mark.parametrize("society", [None, "GR"])
def test_matching_counts_and_share_confirmed(app: Flask, seeded: Seeded, society: str | None) -> None:
    report = run(app, ReportName.MATCHING, society)
    candidates = [c for c in seeded.candidates if inside(c.created_at) and either_side(society, c)]
    by_status = counted((label(c.created_at), c.status.value) for c in candidates)

    assert_counts(report.table("candidates_by_status"), by_status, MONTHS, (s.value for s in MatchStatus))
    share = report.table("share_confirmed")
    for period in MONTHS:
        confirmed, rejected = by_status[(period, "confirmed")], by_status[(period, "rejected")]
        expected = round(confirmed / (confirmed + rejected), 3) if confirmed + rejected else None
        assert share.figure(period, "share").value == expected  # type: ignore[union-attr]


@pytest.mark.parametrize("society", [None, "IT"])
def test_consent_and_disclosure_counts(app: Flask, seeded: Seeded, society: str | None) -> None:
    report = run(app, ReportName.CONSENT_DISCLOSURE, society)
    mine = owned_by(society)
    consents = counted(
        (label(c.recorded_at), f"{c.decision.value}.{c.method.value}")
        for c in seeded.consents
        if inside(c.recorded_at) and mine(c.sighting.society)
    )
    decided = [d for d in seeded.disclosures if inside(d.decided_at) and either_side(society, d.candidate)]
    outcomes = counted(
        (
            label(d.decided_at),
            f"allowed.{d.reasons[0]}" if d.outcome is DisclosureOutcome.ALLOWED else "denied",
        )
        for d in decided
    )
    denials = counted(
        (label(d.decided_at), reason)
        for d in decided
        if d.outcome is DisclosureOutcome.DENIED
        for reason in d.reasons
    )
    terms = [f"{d.value}.{m.value}" for d in ConsentStatus for m in ConsentMethod]
    outcome_columns = ("allowed.consent_covers_request", "allowed.fate_of_deceased", "denied")
    deny_reasons = [
        r.value for r in Reason if r not in (Reason.CONSENT_COVERS_REQUEST, Reason.FATE_OF_DECEASED)
    ]

    assert_counts(report.table("consents_by_decision_and_method"), consents, MONTHS, terms)
    assert_counts(report.table("disclosures_by_outcome"), outcomes, MONTHS, outcome_columns)
    by_reason = report.table("denials_by_reason")
    assert list(by_reason.columns) == deny_reasons
    for reason in deny_reasons:
        for period in MONTHS:
            assert by_reason.figure(period, reason).value == denials[(period, reason)]  # type: ignore[union-attr]
        assert by_reason.figure("total", reason).value == sum(denials[(p, reason)] for p in MONTHS)  # type: ignore[union-attr]
    # A denial counts under each of its reasons: no total across reasons is published.
    assert all(by_reason.figure(period, "total") is None for period in (*MONTHS, "total"))


def test_flows_across_the_network_and_as_one_society_sees_them(app: Flask, seeded: Seeded) -> None:
    def confirmed_in_window(candidate: CandidateSpec) -> bool:
        return candidate.status is MatchStatus.CONFIRMED and inside(
            candidate.approved_at or candidate.confirmed_at
        )

    flows = counted(
        (c.request.society, c.sighting.society) for c in seeded.candidates if confirmed_in_window(c)
    )
    network = run(app, ReportName.FLOWS).table("confirmed_matches_by_societies")
    italy = run(app, ReportName.FLOWS, "IT").table("confirmed_matches_by_societies")

    assert_counts(network, flows, ("DE", "GR", "IT"), ("DE", "GR", "IT"))
    for asking in ("DE", "GR", "IT"):
        for finding in ("DE", "GR", "IT"):
            figure = italy.figure(asking, finding)
            if "IT" in (asking, finding):
                assert figure.value == flows[(asking, finding)]  # type: ignore[union-attr]
            else:
                assert figure is None  # flows between others are not Italy's to know
    assert italy.figure("IT", "total").value == sum(flows[("IT", f)] for f in ("DE", "GR", "IT"))  # type: ignore[union-attr]
    assert italy.figure("total", "IT").value == sum(flows[(a, "IT")] for a in ("DE", "GR", "IT"))  # type: ignore[union-attr]
    assert italy.figure("DE", "total") is None
    assert italy.figure("total", "total") is None


@pytest.mark.parametrize("granularity", [Granularity.QUARTER, Granularity.YEAR])
def test_quarters_and_years_count_the_same_events(
    app: Flask, seeded: Seeded, granularity: Granularity
) -> None:
    report = run(app, ReportName.TRACING_ACTIVITY, granularity=granularity)
    opened = counted(
        (label(r.created_at, granularity), r.status.value) for r in seeded.requests if inside(r.created_at)
    )
    periods = ("2026-Q1", "2026-Q2") if granularity is Granularity.QUARTER else ("2026",)

    assert_counts(report.table("tracing_requests_opened"), opened, periods, (s.value for s in RecordStatus))
