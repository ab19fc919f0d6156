"""``rfl report NAME``: the operator's reports on the command line, audited like their HTTP twin."""

from __future__ import annotations

import csv
import io
import json

import sqlalchemy as sa
from click.testing import Result
from flask import Flask

from rfl.audit.models import AuditEvent
from rfl.cli import main
from rfl.db import db
from tests.rfl.reports.conftest import Seeded

WINDOW = ["--from", "2026-01-01", "--to", "2026-06-30"]


def invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(main, ["report", *args])


def test_a_society_report_as_json_csv_and_a_table(app: Flask, seeded: Seeded) -> None:
    as_json = invoke(app, "tracing-activity", "--society", "IT", *WINDOW, "--format", "json")
    as_csv = invoke(app, "tracing-activity", "--society", "IT", *WINDOW, "--format", "csv")
    as_table = invoke(app, "tracing-activity", "--society", "IT", *WINDOW)

    assert as_json.exit_code == as_csv.exit_code == as_table.exit_code == 0, as_json.output
    document = json.loads(as_json.output)
    assert (document["report"], document["society"], document["threshold"]) == ("tracing-activity", "IT", 5)
    opened = next(t for t in document["tables"] if t["name"] == "tracing_requests_opened")
    total = next(row for row in opened["rows"] if row["key"] == "total")["cells"]["total"]
    italy = sum(
        1
        for r in seeded.requests
        if r.society == "IT" and r.created_at.year == 2026 and r.created_at.month <= 6
    )
    assert total == {"value": italy, "suppressed": False}
    lines = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert {
        "table": "tracing_requests_opened",
        "row": "total",
        "column": "total",
        "value": str(italy),
    }.items() <= next(
        line
        for line in lines
        if (line["table"], line["row"], line["column"]) == ("tracing_requests_opened", "total", "total")
    ).items()
    assert "tracing-activity: IT, 2026-01-01 to 2026-06-30 by month" in as_table.output
    assert "tracing_requests_opened:" in as_table.output
    table_lines = as_table.output.splitlines()
    header = next(line for line in table_lines if line.startswith("period ") and "awaiting_consent" in line)
    assert header.split() == ["period", "open", "awaiting_consent", "disclosed", "closed", "total"]
    with app.app_context(), db.transaction() as session:
        runs = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "report.run")).all()
    assert [(run.actor_user_id, run.outcome, run.owner_society_id) for run in runs] == [
        (None, "ok", seeded.societies["IT"].id)
    ] * 3
    assert {field for run in runs for field in run.fields if field.startswith("format=")} == {
        "format=json",
        "format=csv",
        "format=table",
    }


def test_without_a_society_the_operator_sees_every_society(app: Flask, seeded: Seeded) -> None:
    ran = invoke(app, "flows", *WINDOW, "--format", "json")

    assert ran.exit_code == 0, ran.output
    document = json.loads(ran.output)
    assert document["society"] is None
    assert document["tables"][0]["columns"] == ["DE", "GR", "IT", "total"]


def test_bad_parameters_fail_with_a_message_and_run_nothing(app: Flask, seeded: Seeded) -> None:
    unknown = invoke(app, "matching", "--society", "XX", *WINDOW)
    backwards = invoke(app, "matching", "--from", "2026-06-30", "--to", "2026-01-01")
    no_such_report = invoke(app, "everything", *WINDOW)

    assert unknown.exit_code != 0
    assert "society: No such society." in unknown.output
    assert backwards.exit_code != 0
    assert "from: Must not be after `to`." in backwards.output
    assert no_such_report.exit_code != 0
    with app.app_context(), db.transaction() as session:
        assert session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "report.run")).all() == []
