"""`rfl retention run`: the dry run lists exactly what the run erases; a killed run resumed erases the
same set; legal holds block erasure (on request and by retention) and are reported; no personal value
reaches the output or the audit log; a database backup plus the key file after rotation and
retirement cannot decrypt an erased person."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient

from privacy import DecryptionError, FieldVault, KeyCache, Subject, WrappedDek, load_key_file
from rfl.audit.models import AuditEvent
from rfl.cli import main
from rfl.crypto.models import DataKey
from rfl.db import db
from rfl.extensions import app_services
from rfl.records.models import TracingRequest
from rfl.retention import services
from rfl.retention.models import Erasure
from tests.border import REQUEST, Border, saved
from tests.rfl.retention.conftest import BackupKeyStore, Case

YEARS_6 = timedelta(days=6 * 365)


def invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(main, list(args))


def close(client: FlaskClient, headers: dict[str, str], path: str) -> None:
    current = client.get(path, headers=headers)
    answer = client.patch(
        path, headers={**headers, "If-Match": current.headers["ETag"]}, json={"status": "closed"}
    )
    assert answer.status_code == 200, answer.json


def closed_requests(client: FlaskClient, border: Border, count: int, **person: Any) -> list[str]:
    ids = []
    for n in range(count):
        body = copy.deepcopy(REQUEST)
        body["sought_person"] = {"given_name": f"Karim{n}", "family_name": "Nasser", **person}
        created = saved(client, "/api/v1/tracing-requests", border.de_caseworker, body)
        close(client, border.de_caseworker, f"/api/v1/tracing-requests/{created['id']}")
        ids.append(created["id"])
    return ids


def backdate(app: Flask, ids: list[str]) -> None:
    """As if the records were created and closed six years ago (tokens stay valid: the clock stays)."""
    with app.app_context(), db.transaction() as session:
        for record_id in ids:
            record = session.get_one(TracingRequest, uuid.UUID(record_id))
            record.created_at -= YEARS_6
            if record.closed_at is not None:
                record.closed_at -= YEARS_6


def dry_run_lines(app: Flask) -> set[tuple[str, ...]]:
    result = invoke(app, "retention", "run", "--dry-run")
    assert result.exit_code == 0, result.output
    return {tuple(line.split()) for line in result.stdout.splitlines() if line}


def erased_set(app: Flask) -> set[tuple[str, str, str]]:
    with app.app_context():
        rows = db.session.execute(sa.select(Erasure.record_type, Erasure.record_id, Erasure.person)).all()
    return {(kind, str(record_id), person) for kind, record_id, person in rows}


def test_a_dry_run_lists_exactly_what_the_run_erases(app: Flask, client: FlaskClient, border: Border) -> None:
    # Given closed requests (5 years) and an unmatched sighting (5 years from registration), 6 years on
    expired = closed_requests(client, border, 3)
    backdate(app, expired)
    recent = closed_requests(client, border, 1)

    planned = dry_run_lines(app)
    result = invoke(app, "retention", "run", "--batch-size", "2")

    assert result.exit_code == 0, result.output
    expected = {
        ("tracing_request", record_id, person, "request_closed_unmatched")
        for record_id in expired
        for person in ("sought_person", "enquirer")
    }
    assert planned == expected
    assert erased_set(app) == {line[:3] for line in planned}
    assert not any(record_id in {line[1] for line in planned} for record_id in recent)
    assert "6 erased, 0 held (legal hold)" in result.output
    assert "DE request_closed_unmatched: 6" in result.output
    # A second run finds nothing left
    assert dry_run_lines(app) == set()


def test_a_killed_run_resumed_erases_the_same_set(
    app: Flask, client: FlaskClient, border: Border, monkeypatch: pytest.MonkeyPatch
) -> None:
    backdate(app, closed_requests(client, border, 3))
    planned = {line[:3] for line in dry_run_lines(app)}
    real_batch = services.run_batch
    calls = []

    def killed_after_one_batch(*args: Any, **kwargs: Any) -> services.BatchResult:
        if calls:
            raise KeyboardInterrupt  # the process dies after its first batch committed
        calls.append(1)
        return real_batch(*args, **kwargs)

    # When the run dies after its first batch
    monkeypatch.setattr(services, "run_batch", killed_after_one_batch)
    killed = invoke(app, "retention", "run", "--batch-size", "2")
    assert killed.exit_code != 0
    first = erased_set(app)
    assert len(first) == 2
    # and more requests expire before it is resumed
    closed_later = closed_requests(client, border, 1)
    backdate(app, closed_later)
    # Then the dry run shows what is left of the run, and the resumed run erases exactly the plan
    left = {line[:3] for line in dry_run_lines(app)}
    monkeypatch.setattr(services, "run_batch", real_batch)
    resumed = invoke(app, "retention", "run", "--batch-size", "2")

    assert resumed.exit_code == 0, resumed.output
    assert "resumed" in resumed.output
    assert left == planned - first
    assert erased_set(app) == planned
    assert not any(record_id == closed_later[0] for _, record_id, _ in erased_set(app))
    # The next run takes the ones that expired meanwhile
    assert invoke(app, "retention", "run").exit_code == 0
    assert {record_id for _, record_id, _ in erased_set(app)} >= set(closed_later)


def test_a_legal_hold_blocks_erasure_and_a_run_reports_it(
    app: Flask, client: FlaskClient, border: Border, case: Case
) -> None:
    hold_path = f"/api/v1/tracing-requests/{case.request_id}/legal-hold"
    erase_path = f"/api/v1/tracing-requests/{case.request_id}/erasure"
    by_caseworker = client.put(hold_path, headers=border.de_caseworker, json={"reason": "litigation"})
    held = client.put(hold_path, headers=border.de_officer, json={"reason": "litigation"})

    refused = client.post(
        erase_path, headers=case.de_admin, json={"person": "enquirer", "reason": "objection"}
    )
    close(client, border.de_caseworker, f"/api/v1/tracing-requests/{case.request_id}")
    backdate(app, [case.request_id])
    run = invoke(app, "retention", "run")

    assert by_caseworker.status_code == 403
    assert held.status_code == 200
    assert held.json["legal_hold"] == "litigation"
    assert refused.status_code == 409
    assert run.exit_code == 0, run.output
    assert f"held: tracing_request {case.request_id} sought_person request_closed_unmatched" in run.output
    assert not any(record_id == case.request_id for _, record_id, _ in erased_set(app))
    # Once the hold is lifted the erasure goes through
    lifted = client.delete(hold_path, headers=border.de_officer)
    erased = client.post(
        erase_path, headers=case.de_admin, json={"person": "enquirer", "reason": "objection"}
    )
    assert lifted.status_code == 200
    assert lifted.json["legal_hold"] is None
    assert erased.status_code == 200
    with app.app_context():
        actions = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.outcome)
            .where(AuditEvent.object_id == case.request_id, AuditEvent.action.like("tracing_request.%"))
            .where(
                AuditEvent.action.in_(
                    ["tracing_request.legal_hold", "tracing_request.legal_hold_lift", "tracing_request.erase"]
                )
            )
            .order_by(AuditEvent.seq)
        ).all()
    assert [tuple(row) for row in actions] == [
        ("tracing_request.legal_hold", "ok"),
        ("tracing_request.erase", "denied"),
        ("tracing_request.legal_hold_lift", "ok"),
        ("tracing_request.erase", "ok"),
    ]


def test_the_cli_erases_one_person_and_refuses_under_a_hold(
    app: Flask, client: FlaskClient, border: Border, case: Case
) -> None:
    client.put(
        f"/api/v1/sightings/{case.sighting_id}/legal-hold",
        headers=border.it_officer,
        json={"reason": "investigation"},
    )
    refused = invoke(app, "erase", "--record", case.sighting_id, "--reason", "objection")
    client.delete(f"/api/v1/sightings/{case.sighting_id}/legal-hold", headers=border.it_officer)
    needs_person = invoke(app, "erase", "--record", case.request_id, "--reason", "objection")
    erased = invoke(
        app, "erase", "--record", case.request_id, "--person", "enquirer", "--reason", "objection"
    )

    assert refused.exit_code == 1
    assert "legal hold" in refused.output
    assert needs_person.exit_code == 2
    assert erased.exit_code == 0, erased.output
    assert erased_set(app) == {("tracing_request", case.request_id, "enquirer")}
    with app.app_context():
        outcomes = db.session.scalars(
            sa.select(AuditEvent.outcome)
            .where(AuditEvent.action.in_(["sighting.erase", "tracing_request.erase"]))
            .order_by(AuditEvent.seq)
        ).all()
    assert outcomes == ["denied", "ok"]


MARKER = "Zqxwvmarker"


def test_no_personal_value_reaches_the_output_or_the_audit_log(
    app: Flask, client: FlaskClient, border: Border
) -> None:
    ids = closed_requests(client, border, 2, father_name=f"{MARKER}father", document_id=f"{MARKER}42")
    backdate(app, ids)

    dry = invoke(app, "retention", "run", "--dry-run")
    run = invoke(app, "retention", "run")

    assert run.exit_code == 0
    with app.app_context():
        entries = db.session.scalars(sa.select(AuditEvent)).all()
        logged = json.dumps([[e.action, e.object_id, e.fields] for e in entries], default=str)
    for text in (dry.output, run.output, logged):
        assert MARKER.lower() not in text.lower()
        assert "Nasser" not in text
    assert all(record_id in dry.output for record_id in ids)


def test_a_backup_from_before_the_erasure_cannot_decrypt_after_rotation_and_retirement(
    app: Flask, client: FlaskClient, border: Border, case: Case
) -> None:
    # Given a backup of the database taken before the erasure: the request's row and its wrapped key
    with app.app_context():
        row = db.session.get_one(TracingRequest, uuid.UUID(case.request_id))
        subject = Subject(str(row.society_id), str(row.sought_subject_id))
        key = db.session.get_one(DataKey, (subject.ring_id, subject.subject_id, 1))
        backup_key = WrappedDek(
            key.ring_id, key.subject_id, key.dek_version, key.kek_version, key.wrapped, key.created_at
        )
        backup_name = row.sought_given_name
        old_kek = key.kek_version

    def decrypts_from_backup() -> bool:
        store = BackupKeyStore(backup_key)
        provider = load_key_file(app_services(app).settings.key_file)
        vault = FieldVault(provider, store, cache=KeyCache())
        try:
            vault.decrypt(subject, "tracing_requests", "sought_given_name", case.request_id, backup_name)
        except DecryptionError:
            return False
        return True

    # When the person is erased, the backup still decrypts with the key file as it is
    client.post(
        f"/api/v1/tracing-requests/{case.request_id}/erasure",
        headers=case.de_admin,
        json={"person": "sought_person", "reason": "data_subject_request"},
    )
    assert decrypts_from_backup()
    # Then after the operator rotates the society's KEK and retires the old version, it no longer does
    assert invoke(app, "keys", "rotate", "--society", "DE").exit_code == 0
    retired = invoke(app, "keys", "retire", "--society", "DE", "--version", str(old_kek))
    assert retired.exit_code == 0, retired.output
    assert not decrypts_from_backup()
