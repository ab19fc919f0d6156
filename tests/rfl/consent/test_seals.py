"""A consent row forged or altered in the database is detected, never honoured, and audited."""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import DBAPIError

from rfl.audit.models import AuditEvent
from rfl.consent.models import Consent
from rfl.db import db
from tests.border import REQUEST, SIGHTING, Border, queue, saved


def given_consent(client: FlaskClient, border: Border) -> tuple[dict[str, str], dict[str, str]]:
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    sighting = saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    [match] = queue(client, border.de_officer)
    client.post(f"/api/v1/matches/{match['id']}/confirm", headers=border.de_officer, json={})
    consent = client.post(
        f"/api/v1/sightings/{sighting['id']}/consents",
        headers=border.it_officer,
        json={
            "decision": "given",
            "scope": ["alive_and_well"],
            "method": "oral",
            "recipient_tracing_request_id": request["id"],
        },
    ).json
    return match, consent


def test_a_consent_altered_in_the_database_is_not_honoured_and_is_audited(
    app: Flask, client: FlaskClient, border: Border
) -> None:
    match, consent = given_consent(client, border)
    with app.app_context(), db.transaction() as session:
        if session.get_bind().dialect.name == "postgresql":  # an attacker past the append-only trigger
            session.execute(sa.text("SET LOCAL session_replication_role = replica"))
        session.execute(
            sa.update(Consent)
            .where(Consent.id == uuid.UUID(consent["id"]))
            .values(scope=["alive_and_well", "whereabouts"])
        )

    widened = client.post(
        f"/api/v1/matches/{match['id']}/disclosures",
        headers=border.de_officer,
        json={"fields": ["whereabouts"]},
    )
    listed = client.get(
        f"/api/v1/sightings/{consent['sighting_id']}/consents", headers=border.it_officer
    ).json

    assert widened.status_code == 403
    assert widened.json["reasons"] == ["no_consent"]  # the altered row counts for nothing
    assert listed["items"][0]["seal_valid"] is False
    with app.app_context():
        flagged = db.session.scalars(
            sa.select(AuditEvent.object_id).where(AuditEvent.action == "consent.seal_invalid")
        ).all()
    assert consent["id"] in flagged


@pytest.mark.skipif(not os.environ.get("RFL_TEST_DATABASE_URL"), reason="triggers are PostgreSQL's")
@pytest.mark.parametrize(
    "statement",
    ["UPDATE consent_records SET scope = '[]'", "DELETE FROM consent_records", "TRUNCATE disclosures"],
)
def test_consent_and_disclosure_records_are_append_only(
    app: Flask, client: FlaskClient, border: Border, statement: str
) -> None:
    given_consent(client, border)

    with pytest.raises(DBAPIError, match="append-only"), app.app_context(), db.transaction() as session:
        session.execute(sa.text(statement))
