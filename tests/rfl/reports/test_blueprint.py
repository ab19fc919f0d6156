"""GET /api/v1/reports/{name}: who may run which report on whom, bad parameters, formats, and the audit
entry of every run."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from rfl.accounts.models import Role, Society
from rfl.audit.models import AuditEvent
from rfl.db import db
from tests.conftest import Factories
from tests.rfl.reports.conftest import Seeded, central_tracing_agency

QUERY = "from=2026-01-01&to=2026-06-30"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def events(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context(), db.transaction() as session:
        return list(
            session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq))
        )


def table(answer: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in answer["tables"] if t["name"] == name)


def total(answer: dict[str, Any], name: str) -> Any:
    rows = {row["key"]: row["cells"] for row in table(answer, name)["rows"]}
    return rows["total"]["total"]["value"]


@pytest.fixture
def cta(app: Flask) -> Society:
    return central_tracing_agency(app)


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.TRACING_OFFICER])
def test_caseworkers_and_tracing_officers_are_refused_and_the_refusal_is_audited(
    client: FlaskClient, make: Factories, seeded: Seeded, cta: Society, role: Role
) -> None:
    app = client.application
    for society in (seeded.societies["IT"], cta):
        headers = make.actor_headers(role, society)

        answer = client.get(f"/api/v1/reports/tracing-activity?{QUERY}", headers=headers)

        assert answer.status_code == 403
        assert "tables" not in answer.json
    refusals = events(app, "access.denied")
    assert [(e.outcome, e.object_id) for e in refusals] == [("denied", "reports.report")] * 2
    assert events(app, "report.run") == []


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR])
def test_admins_and_auditors_report_on_their_own_society(
    app: Flask, client: FlaskClient, make: Factories, seeded: Seeded, role: Role
) -> None:
    italy = seeded.societies["IT"]
    headers = make.actor_headers(role, italy)

    by_default = client.get(f"/api/v1/reports/tracing-activity?{QUERY}", headers=headers)
    named = client.get(f"/api/v1/reports/tracing-activity?{QUERY}&society=it", headers=headers)

    assert by_default.status_code == named.status_code == 200
    assert by_default.json["society"] == named.json["society"] == "IT"
    assert by_default.json["tables"] == named.json["tables"]
    opened = sum(
        1
        for r in seeded.requests
        if r.society == "IT" and r.created_at.year == 2026 and r.created_at.month <= 6
    )
    assert total(by_default.json, "tracing_requests_opened") == opened
    runs = events(app, "report.run")
    assert [(e.outcome, e.object_id, e.owner_society_id) for e in runs] == [
        ("ok", "tracing-activity", italy.id)
    ] * 2
    assert runs[0].fields == sorted(
        ["society=IT", "from=2026-01-01", "to=2026-06-30", "granularity=month", "format=json", "threshold=5"]
    )


def test_another_society_is_refused_to_all_but_the_central_tracing_agency_and_audited(
    app: Flask, client: FlaskClient, make: Factories, seeded: Seeded
) -> None:
    headers = make.actor_headers(Role.ADMIN, seeded.societies["IT"])

    answer = client.get(f"/api/v1/reports/matching?{QUERY}&society=DE", headers=headers)

    assert answer.status_code == 403
    (refusal,) = events(app, "report.run")
    assert (refusal.outcome, refusal.object_id) == ("denied", "matching")
    assert "society=DE" in refusal.fields


def test_the_central_tracing_agency_reports_on_every_society_or_on_any_one(
    app: Flask, client: FlaskClient, make: Factories, seeded: Seeded, cta: Society
) -> None:
    headers = make.actor_headers(Role.AUDITOR, cta)

    everyone = client.get(f"/api/v1/reports/tracing-activity?{QUERY}", headers=headers)
    each = [
        client.get(f"/api/v1/reports/tracing-activity?{QUERY}&society={code}", headers=headers)
        for code in ("DE", "IT", "GR")
    ]

    assert everyone.status_code == 200
    assert everyone.json["society"] is None
    assert [answer.json["society"] for answer in each] == ["DE", "IT", "GR"]
    opened = sum(1 for r in seeded.requests if r.created_at.year == 2026 and r.created_at.month <= 6)
    assert total(everyone.json, "tracing_requests_opened") == opened
    assert sum(total(answer.json, "tracing_requests_opened") for answer in each) == opened
    runs = events(app, "report.run")
    assert [e.owner_society_id for e in runs] == [None, *(seeded.societies[c].id for c in ("DE", "IT", "GR"))]
    assert "society=*" in runs[0].fields


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-07-01&to=2026-06-30", "from"),
        ("from=1000-01-01&to=2026-06-30", "from"),
        ("to=0001-03-01", "to"),
        ("from=1990-01-01&to=2026-06-30&granularity=month", "granularity"),
        ("from=2026-01-01&to=2026-02-30", "to"),
        ("granularity=week", "granularity"),
        ("format=xlsx", "format"),
        ("society=I%20T", "society"),
        ("society=XX", "society"),
    ],
)
def test_bad_parameters_are_422_and_nothing_is_run(
    client: FlaskClient, make: Factories, cta: Society, query: str, field: str
) -> None:
    app = client.application
    headers = make.actor_headers(Role.ADMIN, cta)

    answer = client.get(f"/api/v1/reports/flows?{query}", headers=headers)

    assert answer.status_code == 422
    assert field in answer.json["errors"]
    assert events(app, "report.run") == []


def test_an_unknown_report_is_404(client: FlaskClient, make: Factories, cta: Society) -> None:
    answer = client.get(f"/api/v1/reports/everything?{QUERY}", headers=make.actor_headers(Role.ADMIN, cta))

    assert answer.status_code == 404


def test_without_dates_the_last_twelve_months_are_counted(
    client: FlaskClient, make: Factories, seeded: Seeded
) -> None:
    answer = client.get(
        "/api/v1/reports/matching", headers=make.actor_headers(Role.ADMIN, seeded.societies["IT"])
    )

    # The test clock says 2026-11-28.
    assert (answer.json["from"], answer.json["to"], answer.json["granularity"]) == (
        "2025-12-01",
        "2026-11-28",
        "month",
    )
    assert [row["key"] for row in table(answer.json, "candidates_by_status")["rows"]][:2] == [
        "2025-12",
        "2026-01",
    ]


def test_csv_has_one_line_per_published_figure(
    client: FlaskClient, make: Factories, seeded: Seeded, cta: Society
) -> None:
    headers = make.actor_headers(Role.AUDITOR, cta)
    as_json = client.get(f"/api/v1/reports/consent-disclosure?{QUERY}", headers=headers).json

    answer = client.get(f"/api/v1/reports/consent-disclosure?{QUERY}&format=csv", headers=headers)

    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    lines = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    figures = {
        (t["name"], row["key"], column): cell
        for t in as_json["tables"]
        for row in t["rows"]
        for column, cell in row["cells"].items()
    }
    assert len(lines) == len(figures)
    for line in lines:
        cell = figures[(line["table"], line["row"], line["column"])]
        assert line["suppressed"] == str(cell["suppressed"]).lower()
        assert line["value"] == ("" if cell["value"] is None else str(cell["value"]))
        assert (line["report"], line["society"], line["from"], line["to"]) == (
            "consent-disclosure",
            "",
            "2026-01-01",
            "2026-06-30",
        )


@pytest.mark.parametrize("name", ["tracing-activity", "matching", "consent-disclosure", "flows"])
def test_png_charts_the_headline_figures(
    client: FlaskClient, make: Factories, seeded: Seeded, cta: Society, name: str
) -> None:
    app = client.application
    answer = client.get(
        f"/api/v1/reports/{name}?{QUERY}&format=png", headers=make.actor_headers(Role.ADMIN, cta)
    )

    assert answer.status_code == 200
    assert answer.mimetype == "image/png"
    assert answer.data.startswith(PNG_SIGNATURE)
    assert len(answer.data) > 10_000
    assert "format=png" in events(app, "report.run")[0].fields


def test_the_route_is_documented_with_its_formats(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").json
    path = spec["paths"]["/api/v1/reports/{name}"]
    operation = path["get"]

    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv", "image/png"}
    (name,) = [p for p in path["parameters"] if p["name"] == "name"]
    assert name["schema"]["enum"] == ["tracing-activity", "matching", "consent-disclosure", "flows"]
    assert {p["name"] for p in operation["parameters"]} >= {"society", "from", "to", "granularity", "format"}
