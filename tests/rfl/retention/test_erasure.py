"""Erasure of one person on request: their key destroyed, their fields, index rows, candidates'
explanations and outbox messages gone; the record's skeleton, the other person and the log intact."""

from __future__ import annotations

import copy
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from privacy import DecryptionError, FieldVault, KeyCache, Subject
from rfl.accounts.models import Role
from rfl.audit.models import AuditEvent
from rfl.cli import main
from rfl.crypto.keystore import DatabaseKeyStore
from rfl.crypto.models import DataKey
from rfl.db import db
from rfl.extensions import app_services
from rfl.matches.models import MatchStatus
from rfl.outbox.models import OutboxMessage
from rfl.records.models import BlindIndexEntry, Sighting, TracingRequest
from rfl.retention.models import Erasure
from tests.border import SIGHTING, saved
from tests.conftest import Factories
from tests.rfl.retention.conftest import Case, candidates_of

ERASE = {"person": "sought_person", "reason": "data_subject_request"}


def _request(app: Flask, record_id: str) -> TracingRequest:
    with app.app_context():
        return db.session.get_one(TracingRequest, uuid.UUID(record_id))


def _key(app: Flask, ring: uuid.UUID, subject: uuid.UUID) -> DataKey:
    with app.app_context():
        return db.session.get_one(DataKey, (str(ring), str(subject), 1))


def _index_rows(app: Flask, subject: uuid.UUID) -> int:
    with app.app_context():
        return (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(BlindIndexEntry)
                .where(BlindIndexEntry.subject_id == subject)
            )
            or 0
        )


def _audit_verifies(client: FlaskClient, make: Factories, case: Case) -> bool:
    auditor = make.actor_headers(Role.AUDITOR, case.border.germany)
    answer = client.get("/api/v1/audit/verify", headers=auditor)
    assert answer.status_code == 200, answer.json
    return bool(answer.json["ok"])


def test_erasing_the_sought_person_leaves_the_skeleton_and_the_enquirer(
    app: Flask, client: FlaskClient, make: Factories, case: Case
) -> None:
    # Given a request matched (proposed) with a sighting, and the sought person's ciphertext as stored
    before = _request(app, case.request_id)
    (candidate,) = candidates_of(app, case.request_id)
    assert candidate.status is MatchStatus.PROPOSED
    assert candidate.explanation
    assert _index_rows(app, before.sought_subject_id) > 0
    stored_name = before.sought_given_name

    # When an admin of the owning society erases the sought person
    answer = client.post(
        f"/api/v1/tracing-requests/{case.request_id}/erasure", headers=case.de_admin, json=ERASE
    )

    # Then the answer is the record's skeleton
    assert answer.status_code == 200, answer.json
    assert answer.json["id"] == case.request_id
    assert answer.json["status"] == "open"
    assert answer.json["erased"]["sought_person"] is not None
    assert answer.json["erased"]["enquirer"] is None
    # The wrapped data key is gone, and so are the index rows and the fields
    key = _key(app, case.border.germany.id, before.sought_subject_id)
    assert key.wrapped == b""
    assert key.destroyed_at is not None
    assert _index_rows(app, before.sought_subject_id) == 0
    after = _request(app, case.request_id)
    assert after.sought_given_name is None
    assert after.separation_place is None
    assert (after.created_at, after.society_id, after.minor) == (
        before.created_at,
        before.society_id,
        before.minor,
    )
    # The old ciphertext is undecryptable, whatever KEK the key file holds
    with app.app_context():
        vault = FieldVault(app_services(app).keys, DatabaseKeyStore(db.session), cache=KeyCache())
        subject = Subject(str(before.society_id), str(before.sought_subject_id))
        with pytest.raises(DecryptionError):
            vault.decrypt(subject, "tracing_requests", "sought_given_name", case.request_id, stored_name)
    # Its candidate is withdrawn for erasure, with no explanation left, and nothing waits in the outbox
    (withdrawn,) = candidates_of(app, case.request_id)
    assert (withdrawn.status, withdrawn.withdraw_code, withdrawn.explanation) == (
        MatchStatus.WITHDRAWN,
        "erasure",
        [],
    )
    with app.app_context():
        about = {uuid.UUID(case.request_id), withdrawn.id}
        assert not db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.object_id.in_(about))
        ).all()
    # The enquirer is untouched and still readable by the caseworker; the sought person reads empty
    read = client.get(f"/api/v1/tracing-requests/{case.request_id}", headers=case.border.de_caseworker)
    assert read.status_code == 200
    assert read.json["enquirer"]["full_name"] == "Amina Al-Hassan"
    assert not read.json["sought_person"].get("given_name")
    # Search no longer finds the person
    found = client.post(
        "/api/v1/tracing-requests/search", headers=case.border.de_caseworker, json={"q": "Mohammed Al-Hassan"}
    )
    assert found.status_code == 200
    assert found.json["items"] == []
    # The erasure and the withdrawal are audited with ids and codes, and the log verifies
    with app.app_context():
        entries = db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.action.in_(["tracing_request.erase", "match_candidate.withdraw"])
            )
        ).all()
        erasure = db.session.scalars(sa.select(Erasure)).one()
    assert {entry.action for entry in entries} == {"tracing_request.erase", "match_candidate.withdraw"}
    assert (erasure.person, erasure.reason.value) == ("sought_person", "data_subject_request")
    assert _audit_verifies(client, make, case)


def test_matching_no_longer_proposes_an_erased_person(
    app: Flask, client: FlaskClient, make: Factories, case: Case
) -> None:
    client.post(f"/api/v1/tracing-requests/{case.request_id}/erasure", headers=case.de_admin, json=ERASE)

    # When the same man is registered again
    again = saved(client, "/api/v1/sightings", case.border.it_caseworker, copy.deepcopy(SIGHTING))

    # Then no candidate pairs him with the erased request
    assert candidates_of(app, again["id"]) == []


def test_erasing_the_enquirer_leaves_the_sought_person_and_the_candidate(
    app: Flask, client: FlaskClient, case: Case
) -> None:
    before = _request(app, case.request_id)
    answer = client.post(
        f"/api/v1/tracing-requests/{case.request_id}/erasure",
        headers=case.de_admin,
        json={"person": "enquirer", "reason": "objection"},
    )

    assert answer.status_code == 200, answer.json
    assert _key(app, case.border.germany.id, before.enquirer_subject_id).wrapped == b""
    assert _key(app, case.border.germany.id, before.sought_subject_id).wrapped != b""
    read = client.get(f"/api/v1/tracing-requests/{case.request_id}", headers=case.border.de_caseworker).json
    assert read["sought_person"]["given_name"] == "Mohammed"
    assert not read.get("enquirer")
    assert not read.get("message")
    (candidate,) = candidates_of(app, case.request_id)
    assert candidate.status is MatchStatus.PROPOSED
    assert candidate.explanation
    assert _index_rows(app, before.sought_subject_id) > 0


def test_erasing_the_found_person_of_a_sighting(app: Flask, client: FlaskClient, case: Case) -> None:
    answer = client.post(
        f"/api/v1/sightings/{case.sighting_id}/erasure",
        headers=case.it_admin,
        json={"reason": "consent_withdrawn"},
    )

    assert answer.status_code == 200, answer.json
    assert answer.json["erased"]["person"] is not None
    with app.app_context():
        sighting = db.session.get_one(Sighting, uuid.UUID(case.sighting_id))
        assert sighting.person_given_name is None
        assert sighting.whereabouts_address is None
        assert sighting.condition_code is not None  # the reports' skeleton stays
    (candidate,) = candidates_of(app, case.sighting_id)
    assert candidate.status is MatchStatus.WITHDRAWN
    assert candidate.explanation == []
    # The request on the other side is untouched
    read = client.get(f"/api/v1/tracing-requests/{case.request_id}", headers=case.border.de_caseworker)
    assert read.json["sought_person"]["given_name"] == "Mohammed"
    # Nothing more can be written of the erased person
    edit = client.get(f"/api/v1/sightings/{case.sighting_id}", headers=case.border.it_caseworker)
    patched = client.patch(
        f"/api/v1/sightings/{case.sighting_id}",
        headers={**case.border.it_caseworker, "If-Match": edit.headers["ETag"]},
        json={"person": {"given_name": "Muhammad"}},
    )
    assert patched.status_code in (409, 422)
    with app.app_context():
        assert db.session.get_one(Sighting, uuid.UUID(case.sighting_id)).person_given_name is None


def test_only_an_admin_of_the_owning_society_erases(app: Flask, client: FlaskClient, case: Case) -> None:
    path = f"/api/v1/tracing-requests/{case.request_id}/erasure"

    by_caseworker = client.post(path, headers=case.border.de_caseworker, json=ERASE)
    by_other_admin = client.post(path, headers=case.it_admin, json=ERASE)

    assert by_caseworker.status_code == 403
    assert by_other_admin.status_code == 404
    assert _request(app, case.request_id).sought_erased_at is None
    with app.app_context():
        denied = db.session.scalars(
            sa.select(AuditEvent.outcome).where(AuditEvent.action == "tracing_request.erase")
        ).all()
    assert denied == ["denied"]


@pytest.mark.parametrize(
    "body",
    [
        {"person": "sought_person"},
        {"person": "sister", "reason": "objection"},
        {"person": "sought_person", "reason": "she asked, call +49 30 555 0100"},
    ],
)
def test_a_bad_erasure_request_changes_nothing(
    app: Flask, client: FlaskClient, case: Case, body: dict[str, str]
) -> None:
    answer = client.post(
        f"/api/v1/tracing-requests/{case.request_id}/erasure", headers=case.de_admin, json=body
    )

    assert answer.status_code == 422
    assert _request(app, case.request_id).sought_erased_at is None


def test_a_person_is_erased_once(client: FlaskClient, case: Case) -> None:
    path = f"/api/v1/tracing-requests/{case.request_id}/erasure"

    first = client.post(path, headers=case.de_admin, json=ERASE)
    second = client.post(path, headers=case.de_admin, json=ERASE)

    assert (first.status_code, second.status_code) == (200, 409)


def test_reindexing_and_rescoring_pass_over_an_erased_person(
    app: Flask, client: FlaskClient, make: Factories, case: Case
) -> None:
    before = _request(app, case.request_id)
    client.post(f"/api/v1/tracing-requests/{case.request_id}/erasure", headers=case.de_admin, json=ERASE)

    result = app.test_cli_runner().invoke(main, ["match", "run", "--reindex"])

    assert result.exit_code == 0, result.output
    assert _index_rows(app, before.sought_subject_id) == 0
    (withdrawn,) = candidates_of(app, case.request_id)
    assert withdrawn.status is MatchStatus.WITHDRAWN


def test_an_unknown_record_is_refused_like_another_societys(
    app: Flask, client: FlaskClient, case: Case
) -> None:
    unknown = uuid.uuid4()

    answer = client.post(f"/api/v1/tracing-requests/{unknown}/erasure", headers=case.de_admin, json=ERASE)

    assert answer.status_code == 404
    with app.app_context():
        outcomes = db.session.scalars(
            sa.select(AuditEvent.outcome).where(AuditEvent.object_id == str(unknown))
        ).all()
    assert outcomes == ["denied"]
