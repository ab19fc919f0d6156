"""Reports hold no personal data and read none: with decryption made impossible every report still
answers, in every format, and no answer or audit entry holds a marker seeded in every personal field."""

from __future__ import annotations

import ast
import json
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from privacy import FieldVault
from rfl.accounts.models import Role
from rfl.audit.models import AuditEvent
from rfl.cli import main
from rfl.db import db
from rfl.reports.periods import Granularity, Window
from rfl.reports.services import ReportName, ReportQuery, run_report
from rfl.reports.tables import Figure
from tests.border import Border, queue, saved
from tests.conftest import Factories, unaudited
from tests.functional.test_consent_disclosure import REQUEST, SIGHTING, disclose
from tests.rfl.records.test_storage import MARK, marked_sighting, marked_tracing_request
from tests.rfl.reports.conftest import central_tracing_agency
from tests.test_architecture import ROOT, imported_modules

REPORTS = ("tracing-activity", "matching", "consent-disclosure", "flows")
DAYS = ("2026-01-01", "2026-12-31")
# What report code must never reach for: a crypto context, or the services that decrypt.
DECRYPTING = (
    "rfl.crypto",
    "rfl.extensions",
    "rfl.records.services",
    "rfl.records.codec",
    "rfl.records.canonical",
    "rfl.matches.services",
    "rfl.consent.services",
    "rfl.disclosures.services",
)


def refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise AssertionError("report code decrypted something")


def marked_case(client: FlaskClient, border: Border) -> dict[str, Any]:
    """A confirmed match, a consent and a disclosure, every free text of them carrying the marker, and
    two more records marked in every field."""
    saved(client, "/api/v1/tracing-requests", border.de_caseworker, marked_tracing_request())
    saved(client, "/api/v1/sightings", border.it_caseworker, marked_sighting())
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    sighting = saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    [match] = [
        m
        for m in queue(client, border.de_officer)
        if (m["tracing_request_id"], m["sighting_id"]) == (request["id"], sighting["id"])
    ]
    confirmed = client.post(
        f"/api/v1/matches/{match['id']}/confirm", headers=border.de_officer, json={"note": f"{MARK}note"}
    )
    assert confirmed.status_code == 200, confirmed.json
    given = client.post(
        f"/api/v1/sightings/{sighting['id']}/consents",
        headers=border.it_officer,
        json={
            "decision": "given",
            "scope": ["alive_and_well", "message"],
            "method": "oral",
            "recipient_tracing_request_id": request["id"],
            "note": f"{MARK}consentnote",
            "message": f"{MARK}message",
        },
    )
    assert given.status_code == 201, given.json
    case = {"request": request, "sighting": sighting, "match": confirmed.json}
    assert disclose(client, border, case, "alive_and_well").status_code == 201
    return case


def test_no_report_decrypts_anything_nor_holds_a_marker(
    client: FlaskClient, border: Border, make: Factories, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = client.application
    case = marked_case(client, border)
    auditor = make.actor_headers(Role.AUDITOR, central_tracing_agency(app))
    monkeypatch.setattr(FieldVault, "decrypt", refuse)
    monkeypatch.setattr(FieldVault, "decrypt_fields", refuse)

    answers = []
    for name in REPORTS:
        for society in ("", "&society=IT", "&society=DE"):
            for answer_format in ("json", "csv", "png"):
                answer = client.get(
                    f"/api/v1/reports/{name}?from={DAYS[0]}&to={DAYS[1]}&format={answer_format}{society}",
                    headers=auditor,
                )
                assert answer.status_code == 200, (name, society, answer_format)
                answers.append(answer.data)
        for output_format in ("table", "csv", "json"):
            ran = app.test_cli_runner().invoke(
                main, ["report", name, "--from", DAYS[0], "--to", DAYS[1], "--format", output_format]
            )
            assert ran.exit_code == 0, ran.output
            answers.append(ran.output.encode())

    for answer in answers:
        assert MARK.encode() not in answer
        assert MARK.lower().encode() not in answer
    with app.app_context(), db.transaction() as session:
        runs = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "report.run")).all()
    assert len(runs) == len(REPORTS) * (3 * 3 + 3)  # three scopes in three formats, three on the CLI
    assert MARK not in json.dumps([run.fields for run in runs])
    # The marked records were counted all the same (shown here with nothing withheld).
    window = Window(date.fromisoformat(DAYS[0]), date.fromisoformat(DAYS[1]), Granularity.YEAR)
    with app.app_context(), db.transaction() as session:
        query = ReportQuery(ReportName.TRACING_ACTIVITY, None, window, "json")
        counted = run_report(session, None, query, threshold=1, audit=unaudited)
    assert counted.table("tracing_requests_opened").figure("total", "total") == Figure(2)
    assert counted.table("sightings_by_condition").figure("total", "total") == Figure(2)
    assert counted.table("time_to_disclosure").figure("total", "median_days") != Figure(None, suppressed=True)
    # ... and the patch bites: reading the record itself now fails.
    read = client.get(f"/api/v1/tracing-requests/{case['request']['id']}", headers=border.de_caseworker)
    assert read.status_code == 500


def test_report_code_imports_nothing_that_decrypts() -> None:
    folder = ROOT / "rfl" / "reports"
    offending = {
        f"{path.name}: {name}"
        for path in folder.glob("*.py")
        for name in imported_modules(path)
        if any(name == banned or name.startswith(banned + ".") for banned in DECRYPTING)
        and not (path.name == "blueprint.py" and name == "rfl.extensions")  # the edge reads settings
    }
    words = {path.name for path in folder.glob("*.py") if _mentions_decryption(path)}

    assert offending == set()
    assert words == set()


def _mentions_decryption(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return bool(names & {"crypto", "vault", "decrypt", "decrypt_fields", "FieldVault", "sealer"})


@pytest.mark.parametrize(("society", "counted"), [("DE", 0), ("IT", 1)])
def test_a_pair_kept_from_the_requests_society_is_not_counted_for_it(
    app: Any, client: FlaskClient, border: Border, society: str, counted: int
) -> None:
    """Rule 10 in the figures too: a pair of a sighting kept from other borders is Italy's alone."""
    saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    kept = SIGHTING | {"restrictions": {"no_cross_border": True, "exclude": []}}
    saved(client, "/api/v1/sightings", border.it_caseworker, kept)
    assert len(queue(client, border.it_officer)) == 1

    with app.app_context(), db.transaction() as session:
        window = Window(date(2026, 1, 1), date(2027, 12, 31), Granularity.YEAR)
        query = ReportQuery(ReportName.MATCHING, society, window, "json")
        report = run_report(session, None, query, threshold=1, audit=unaudited)

    assert report.table("candidates_by_status").figure("total", "total") == Figure(counted)


@pytest.mark.parametrize(("society", "counted"), [("DE", 0), ("IT", 1)])
def test_a_pair_whose_found_person_refused_is_not_counted_for_the_family_side(
    app: Any, client: FlaskClient, border: Border, society: str, counted: int
) -> None:
    """Rule 2 in the figures too: the family's side knows only that its search closed."""
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    [pair] = queue(client, border.de_officer)
    client.post(f"/api/v1/matches/{pair['id']}/confirm", headers=border.de_officer, json={})
    refusal = {
        "decision": "refused",
        "scope": [],
        "method": "oral",
        "recipient_tracing_request_id": request["id"],
    }
    refused = client.post(
        f"/api/v1/sightings/{pair['sighting_id']}/consents", headers=border.it_officer, json=refusal
    )
    assert refused.status_code == 201

    with app.app_context(), db.transaction() as session:
        window = Window(date(2026, 1, 1), date(2027, 12, 31), Granularity.YEAR)
        query = ReportQuery(ReportName.MATCHING, society, window, "json")
        report = run_report(session, None, query, threshold=1, audit=unaudited)

    assert report.table("candidates_by_status").figure("total", "total") == Figure(counted)
