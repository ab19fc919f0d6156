"""Disclosure control of the reports on small groups: no published count is below the threshold, what
is published is true, and nothing withheld can be worked out again from what the answer publishes."""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from privacy import Published
from rfl.accounts.models import Role
from rfl.db import db
from rfl.disclosures.models import DisclosureOutcome
from rfl.extensions import app_services
from rfl.matches.models import MatchStatus
from rfl.records.models import RecordStatus
from rfl.reports.periods import Granularity, Window
from rfl.reports.services import ReportName, ReportQuery, run_report
from rfl.reports.tables import TOTAL, Table
from tests.conftest import Factories, unaudited
from tests.privacy.attacks import determined_by_linear_algebra, recovered_by_lines
from tests.rfl.reports.conftest import CODES, RequestSpec, Seeded, build_specs, central_tracing_agency, write

THRESHOLD = 5
QUERY = "from=2026-01-01&to=2026-06-30"
COUNT_TABLES = {
    "tracing-activity": (
        "tracing_requests_opened",
        "tracing_requests_closed",
        "sightings_by_condition",
        "minor_sightings_by_condition",
    ),
    "matching": ("candidates_by_status",),
    "consent-disclosure": (
        "consents_by_decision_and_method",
        "disclosures_by_outcome",
        "denials_by_reason",
    ),
    "flows": ("confirmed_matches_by_societies",),
}


@dataclass(frozen=True)
class Publication:
    """A table of a JSON answer as the attacker holds it, indexed like the grid with margins."""

    rows: int
    columns: int
    cells: dict[tuple[int, int], dict[str, Any]]

    @property
    def suppressed(self) -> frozenset[tuple[int, int]]:
        return frozenset(p for p, cell in self.cells.items() if cell["suppressed"])

    def at(self, row: int, column: int) -> Published | None:
        cell = self.cells.get((row, column))
        return None if cell is None else Published(cell["value"], cell["suppressed"])


def publication(table: dict[str, Any]) -> Publication:
    rows = [row["key"] for row in table["rows"] if row["key"] != TOTAL]
    columns = [column for column in table["columns"] if column != TOTAL]
    row_index = {key: i for i, key in enumerate(rows)} | {TOTAL: len(rows)}
    column_index = {key: j for j, key in enumerate(columns)} | {TOTAL: len(columns)}
    cells = {
        (row_index[row["key"]], column_index[column]): cell
        for row in table["rows"]
        for column, cell in row["cells"].items()
    }
    return Publication(len(rows), len(columns), cells)


@pytest.fixture
def small(app: Flask, make: Factories) -> Seeded:
    """Few records over many cells: most counts are small."""
    specs = build_specs(random.Random(5), CODES, 40)
    write(app, make, specs, CODES)
    return specs


@pytest.fixture
def cta_auditor(make: Factories, app: Flask) -> dict[str, str]:
    return make.actor_headers(Role.AUDITOR, central_tracing_agency(app))


def unprotected(app: Flask, name: str, society: str | None) -> dict[str, Table]:
    """The same report with nothing withheld (threshold 1): the truth the answer is compared with."""
    window = Window(date(2026, 1, 1), date(2026, 6, 30), Granularity.MONTH)
    with app.app_context(), db.transaction() as session:
        report = run_report(
            session,
            None,
            ReportQuery(ReportName(name), society, window, "json"),
            threshold=1,
            audit=unaudited,
        )
    return {table.name: table for table in report.tables}


@pytest.mark.parametrize("society", [None, "IT"])
@pytest.mark.parametrize("name", list(COUNT_TABLES))
def test_small_counts_are_withheld_and_cannot_be_recovered_from_the_margins(
    client: FlaskClient,
    small: Seeded,
    cta_auditor: dict[str, str],
    name: str,
    society: str | None,
) -> None:
    scope = f"&society={society}" if society else ""
    answer = client.get(f"/api/v1/reports/{name}?{QUERY}{scope}", headers=cta_auditor)
    truth = unprotected(client.application, name, society)

    assert answer.status_code == 200, answer.json
    assert answer.json["threshold"] == THRESHOLD
    tables = {table["name"]: table for table in answer.json["tables"]}
    withheld = 0
    for table_name in COUNT_TABLES[name]:
        table = tables[table_name]
        for row in table["rows"]:
            for column, cell in row["cells"].items():
                actual = truth[table_name].figure(row["key"], column).value  # type: ignore[union-attr]
                if cell["suppressed"]:
                    assert cell["value"] is None
                    withheld += 1
                else:
                    assert cell["value"] == actual
                    assert not 0 < cell["value"] < THRESHOLD, (table_name, row["key"], column)
        attacked = publication(table)
        assert recovered_by_lines(attacked) == {}, table_name
        assert determined_by_linear_algebra(attacked) == set(), table_name
    assert withheld > 0  # the small groups did need protecting


def test_a_small_cell_takes_larger_ones_of_its_row_and_column_with_it(
    app: Flask, client: FlaskClient, make: Factories, cta_auditor: dict[str, str]
) -> None:
    """January's 3 closed requests would be its row total minus the rest: a cell of January and one
    of the closed column are withheld too, and the totals stay published."""
    seeded = Seeded(societies={})
    month_counts = {1: (10, 6, 3), 2: (8, 7, 5), 3: (9, 5, 6)}  # open, awaiting consent, closed
    for month, counts in month_counts.items():
        created = datetime(2026, month, 10, tzinfo=UTC)
        for status, count in zip(
            (RecordStatus.OPEN, RecordStatus.AWAITING_CONSENT, RecordStatus.CLOSED), counts, strict=True
        ):
            for _ in range(count):
                closed = created + timedelta(days=200) if status is RecordStatus.CLOSED else None
                seeded.requests.append(RequestSpec(uuid.uuid4(), "IT", created, status, closed))
    write(app, make, seeded, CODES)

    answer = client.get(f"/api/v1/reports/tracing-activity?{QUERY}", headers=cta_auditor)

    table = next(t for t in answer.json["tables"] if t["name"] == "tracing_requests_opened")
    rows = {row["key"]: row["cells"] for row in table["rows"]}
    withheld = {
        (key, column) for key, cells in rows.items() for column, cell in cells.items() if cell["suppressed"]
    }
    assert ("2026-01", "closed") in withheld
    assert any(key == "2026-01" and column != "closed" for key, column in withheld)
    assert any(column == "closed" and key != "2026-01" for key, column in withheld)
    assert rows["2026-01"]["total"] == {"value": 19, "suppressed": False}
    assert rows["total"]["total"] == {"value": 59, "suppressed": False}
    assert recovered_by_lines(publication(table)) == {}
    assert determined_by_linear_algebra(publication(table)) == set()


def test_waiting_times_are_shown_only_for_groups_at_the_threshold(
    client: FlaskClient, small: Seeded, cta_auditor: dict[str, str]
) -> None:
    answer = client.get(f"/api/v1/reports/tracing-activity?{QUERY}", headers=cta_auditor)
    sizes = group_sizes(small)

    shown = hidden = 0
    for name, size_of in sizes.items():
        table = next(t for t in answer.json["tables"] if t["name"] == name)
        assert table["columns"] == ["median_days", "p90_days"]  # how many is never published
        for row in table["rows"]:
            median, p90 = row["cells"]["median_days"], row["cells"]["p90_days"]
            if size_of[row["key"]] >= THRESHOLD:
                assert median["value"] is not None
                assert p90["value"] is not None
                shown += 1
            else:  # a few, or none: the same answer
                assert median == p90 == {"value": None, "suppressed": True}
                hidden += 1
    assert shown > 0
    assert hidden > 0


def group_sizes(seeded: Seeded) -> dict[str, Counter[str]]:
    """How many requests of each month (and in all) reached each waiting time's event."""
    inside = [r for r in seeded.requests if r.created_at.year == 2026 and r.created_at.month <= 6]
    reached: dict[str, Counter[str]] = {}
    events = {
        "time_to_first_proposal": lambda r: any(c.request is r for c in seeded.candidates),
        "time_to_confirmation": lambda r: any(
            c.request is r and c.status is MatchStatus.CONFIRMED for c in seeded.candidates
        ),
        "time_to_disclosure": lambda r: any(
            d.candidate.request is r and d.outcome is DisclosureOutcome.ALLOWED for d in seeded.disclosures
        ),
    }
    for name, got_there in events.items():
        months = Counter(f"{r.created_at.year}-{r.created_at.month:02d}" for r in inside if got_there(r))
        months[TOTAL] = sum(months.values())
        reached[name] = months
    return reached


def test_the_threshold_is_a_setting(app: Flask, client: FlaskClient, small: Seeded, make: Factories) -> None:
    strict = make.actor_headers(Role.AUDITOR, central_tracing_agency(app))
    services = app_services(app)
    dataclasses.replace(services, settings=services.settings.with_overrides(report_threshold=10)).install(app)

    answer = client.get(f"/api/v1/reports/matching?{QUERY}", headers=strict)

    assert answer.json["threshold"] == 10
    for row in answer.json["tables"][0]["rows"]:
        for cell in row["cells"].values():
            assert cell["suppressed"] or not 0 < cell["value"] < 10
