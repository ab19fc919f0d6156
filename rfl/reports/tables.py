"""Report tables: counts with their margins, protected before anything is published, and durations
shown only for groups large enough.

Every count table goes through ``privacy.protect_table``: counts below the threshold are withheld, and
so is whatever they could be recomputed from. A table's cells hold only what may be published: a
withheld figure is ``value=None, suppressed=True``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from privacy import Published, protect_table

TOTAL = "total"


@dataclass(frozen=True)
class Figure:
    """One published figure; ``value`` is None when it is withheld (``suppressed``) or has no value
    (a median of nothing)."""

    value: int | float | None
    suppressed: bool = False


WITHHELD = Figure(None, suppressed=True)


@dataclass(frozen=True)
class Table:
    name: str
    definition: str
    row_dimension: str
    column_dimension: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    # Only the published positions: a (row, column) absent here is not part of the table.
    cells: Mapping[tuple[str, str], Figure]

    def figure(self, row: str, column: str) -> Figure | None:
        return self.cells.get((row, column))


def _figure(published: Published | None) -> Figure | None:
    if published is None:
        return None
    return WITHHELD if published.suppressed else Figure(published.value)


def count_table(
    name: str,
    definition: str,
    *,
    row_dimension: str,
    rows: Sequence[str],
    column_dimension: str,
    columns: Sequence[str],
    counts: Mapping[tuple[str, str], int],
    threshold: int,
    row_totals: bool | Sequence[bool] = True,
    column_totals: bool | Sequence[bool] = True,
    grand_total: bool | None = None,
    visible: Callable[[str, str], bool] | None = None,
) -> Table:
    """A table of ``counts`` (absent: 0) over ``rows`` x ``columns`` with the chosen margins, protected.
    ``visible`` leaves positions out of the publication altogether (another society's flows)."""
    grid = [
        [
            counts.get((row, column), 0) if visible is None or visible(row, column) else None
            for column in columns
        ]
        for row in rows
    ]
    protected = protect_table(
        grid, threshold=threshold, row_totals=row_totals, column_totals=column_totals, grand_total=grand_total
    )
    cells: dict[tuple[str, str], Figure] = {}
    row_labels, column_labels = [*rows, TOTAL], [*columns, TOTAL]
    for i, row in enumerate(row_labels):
        for j, column in enumerate(column_labels):
            figure = _figure(protected.at(i, j))
            if figure is not None:
                cells[(row, column)] = figure
    return Table(
        name=name,
        definition=definition,
        row_dimension=row_dimension,
        column_dimension=column_dimension,
        rows=tuple(label for label in row_labels if any(key[0] == label for key in cells)),
        columns=tuple(label for label in column_labels if any(key[1] == label for key in cells)),
        cells=cells,
    )


# --- durations ------------------------------------------------------------------------------------------

DURATION_COLUMNS = ("median_days", "p90_days")


def duration_table(
    name: str, definition: str, *, periods: Sequence[str], days: Mapping[str, Sequence[float]], threshold: int
) -> Table:
    """Per period and over all of them, the median and 90th percentile of the durations in days, shown
    only for at least ``threshold`` of them; otherwise withheld, also when there are none.

    How many durations each figure rests on is not published: the number of requests that reached a
    disclosure equals a cell of the tracing requests table (those disclosed), so publishing it would
    undo that table's protection; and telling "none" from "a few" apart would do the same."""
    pooled = [value for period in periods for value in days.get(period, ())]
    cells: dict[tuple[str, str], Figure] = {}
    for row, values in [*((period, days.get(period, ())) for period in periods), (TOTAL, pooled)]:
        cells[(row, "median_days")], cells[(row, "p90_days")] = _quantiles(values, threshold)
    return Table(
        name=name,
        definition=definition,
        row_dimension="period",
        column_dimension="figure",
        rows=(*periods, TOTAL),
        columns=DURATION_COLUMNS,
        cells=cells,
    )


def _quantiles(values: Sequence[float], threshold: int) -> tuple[Figure, Figure]:
    """Median and 90th percentile (linear interpolation between order statistics, as
    ``statistics.quantiles(method="inclusive")`` and numpy's default), rounded to a tenth of a day."""
    if not values or len(values) < threshold:
        return WITHHELD, WITHHELD
    ordered = sorted(values)
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[8] if len(ordered) > 1 else ordered[0]
    return Figure(round(statistics.median(ordered), 1)), Figure(round(p90, 1))


# --- shares ----------------------------------------------------------------------------------------------


def share_table(
    name: str,
    definition: str,
    *,
    source: Table,
    rows: Sequence[str],
    numerator: str,
    denominator: Sequence[str],
) -> Table:
    """``numerator / sum(denominator)`` per row of ``source``, from its published figures only: withheld
    when any of them is withheld, no value when the denominator is zero."""
    cells = {}
    for row in (*rows, TOTAL):
        figures = [source.figure(row, column) for column in (numerator, *denominator)]
        if any(figure is None or figure.suppressed for figure in figures):
            cells[(row, "share")] = WITHHELD
            continue
        top, *parts = (float(figure.value or 0) for figure in figures if figure is not None)
        cells[(row, "share")] = Figure(round(top / sum(parts), 3) if sum(parts) else None)
    return Table(
        name=name,
        definition=definition,
        row_dimension=source.row_dimension,
        column_dimension="figure",
        rows=(*rows, TOTAL),
        columns=("share",),
        cells=cells,
    )
