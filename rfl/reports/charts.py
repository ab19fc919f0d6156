"""Charts of a report's headline figures (PNG, matplotlib's Agg renderer: no display needed).

The series are drawn from the published figures only: a withheld figure is a gap in its line (or an
empty square in the flows matrix), never its value.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

from rfl.reports.services import Report, ReportName
from rfl.reports.tables import TOTAL, Table

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# (label, table, column) of each report's headline series; TOTAL is the row total of the table.
HEADLINES: dict[ReportName, tuple[tuple[str, str, str], ...]] = {
    ReportName.TRACING_ACTIVITY: (
        ("tracing requests opened", "tracing_requests_opened", TOTAL),
        ("tracing requests closed", "tracing_requests_closed", TOTAL),
        ("sightings registered", "sightings_by_condition", TOTAL),
        ("sightings of possible minors", "minor_sightings_by_condition", TOTAL),
    ),
    ReportName.MATCHING: (
        ("candidates proposed", "candidates_by_status", TOTAL),
        ("now confirmed", "candidates_by_status", "confirmed"),
        ("now rejected", "candidates_by_status", "rejected"),
    ),
    ReportName.CONSENT_DISCLOSURE: (
        ("consents recorded", "consents_by_decision_and_method", TOTAL),
        ("disclosures decided", "disclosures_by_outcome", TOTAL),
        ("disclosures denied", "disclosures_by_outcome", "denied"),
    ),
}
FLOWS_TABLE = "confirmed_matches_by_societies"


def render_png(report: Report) -> bytes:
    """The report's headline chart as PNG bytes."""
    # matplotlib is imported here, not at the top: it takes a noticeable time to load, and only
    # chart answers need it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 5.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    if report.name is ReportName.FLOWS:
        _flows(axes, report.table(FLOWS_TABLE))
    else:
        _series(axes, report)
    axes.set_title(_title(report))
    output = io.BytesIO()
    figure.savefig(output, format="png")
    return output.getvalue()


def _title(report: Report) -> str:
    society = report.scope.society_code or "all societies"
    return (
        f"{report.name.value}, {society}, {report.window.start} to {report.window.end}\n"
        f"gaps and blanks: withheld (fewer than {report.threshold}, or would reveal such a count)"
    )


def series_values(table: Table, column: str) -> list[float]:
    """One column of a per-period table as chart values: NaN (a gap) where nothing may be shown."""
    return [_cell(table, period, column) for period in table.rows if period != TOTAL]


def _series(axes: Axes, report: Report) -> None:
    periods = list(report.window.periods())
    positions = list(range(len(periods)))
    for label, table_name, column in HEADLINES[report.name]:
        axes.plot(positions, series_values(report.table(table_name), column), marker="o", label=label)
    axes.set_xticks(positions, periods, rotation=45 if len(periods) > 6 else 0, ha="right")
    axes.set_ylabel("count")
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left")
    axes.grid(visible=True, alpha=0.3)


def _flows(axes: Axes, table: Table) -> None:
    societies = [row for row in table.rows if row != TOTAL]
    columns = [column for column in table.columns if column != TOTAL]
    grid = [[_cell(table, row, column) for column in columns] for row in societies]
    if societies and columns:
        axes.imshow(grid, cmap="Blues", aspect="auto")
        for i, row in enumerate(grid):
            for j, value in enumerate(row):
                if not math.isnan(value):
                    axes.text(j, i, str(int(value)), ha="center", va="center")
    axes.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    axes.set_yticks(range(len(societies)), societies)
    axes.set_xlabel("society that found the person")
    axes.set_ylabel("society that asked")


def _cell(table: Table, row: str, column: str) -> float:
    """A figure as a number to draw; NaN (nothing drawn) where it is withheld or absent."""
    figure = table.figure(row, column)
    if figure is None or figure.suppressed or figure.value is None:
        return math.nan
    return float(figure.value)
