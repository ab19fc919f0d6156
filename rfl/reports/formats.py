"""A report as a JSON document, as CSV for spreadsheets (one line per published figure), and as plain
text tables for the terminal. Each shows exactly the published figures: a withheld one is null (JSON),
empty with ``suppressed`` true (CSV), or ``x`` (text)."""

from __future__ import annotations

import csv
import io
from typing import Any

from rfl.reports.services import Report
from rfl.reports.tables import Figure, Table

CSV_COLUMNS = (
    "report",
    "society",
    "from",
    "to",
    "granularity",
    "table",
    "row",
    "column",
    "value",
    "suppressed",
)
WITHHELD_MARK = "x"


def as_document(report: Report) -> dict[str, Any]:
    return {
        "report": report.name.value,
        "society": report.scope.society_code,
        "from": report.window.start.isoformat(),
        "to": report.window.end.isoformat(),
        "granularity": report.window.granularity.value,
        "threshold": report.threshold,
        "tables": [_table_document(table) for table in report.tables],
    }


def _table_document(table: Table) -> dict[str, Any]:
    return {
        "name": table.name,
        "definition": table.definition,
        "row_dimension": table.row_dimension,
        "column_dimension": table.column_dimension,
        "columns": list(table.columns),
        "rows": [
            {
                "key": row,
                "cells": {
                    column: {"value": figure.value, "suppressed": figure.suppressed}
                    for column in table.columns
                    if (figure := table.figure(row, column)) is not None
                },
            }
            for row in table.rows
        ],
    }


def as_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    head = (
        report.name.value,
        report.scope.society_code or "",
        report.window.start.isoformat(),
        report.window.end.isoformat(),
        report.window.granularity.value,
    )
    for table in report.tables:
        for row in table.rows:
            for column in table.columns:
                figure = table.figure(row, column)
                if figure is not None:
                    value = "" if figure.value is None else figure.value
                    writer.writerow((*head, table.name, row, column, value, str(figure.suppressed).lower()))
    return out.getvalue()


def as_text(report: Report) -> str:
    society = report.scope.society_code or "all societies"
    lines = [
        f"{report.name.value}: {society}, {report.window.start} to {report.window.end} by "
        f"{report.window.granularity.value}",
        f"{WITHHELD_MARK}: withheld (below {report.threshold}, or it would give such a count back)",
    ]
    for table in report.tables:
        lines += ["", f"{table.name}: {table.definition}", *_grid(table)]
    return "\n".join(lines) + "\n"


def _grid(table: Table) -> list[str]:
    header = [table.row_dimension, *table.columns]
    body = [[row, *(_shown(table.figure(row, column)) for column in table.columns)] for row in table.rows]
    widths = [max(len(line[k]) for line in [header, *body]) for k in range(len(header))]
    return [
        "  ".join(
            value.ljust(width) if k == 0 else value.rjust(width)
            for k, (value, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in [header, *body]
    ]


def _shown(figure: Figure | None) -> str:
    if figure is None:
        return ""
    if figure.suppressed:
        return WITHHELD_MARK
    return "-" if figure.value is None else str(figure.value)
