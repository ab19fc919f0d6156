"""Exports hold what a society may share with RFL partners: its own tracing requests still searched
for, and its sightings whose found person's consent names `partners`; identity fields only, never
whereabouts, contact details or identifiers; every exported record audited. A PFIF export imported into
another instance gives the same people."""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from rfl import create_app, migrate
from rfl.accounts.models import Role
from rfl.db import db
from rfl.exchange import pfif
from rfl.records import services as records
from rfl.records.models import Sighting, TracingRequest
from tests.conftest import Factories, FakeClock, make_settings
from tests.rfl.exchange.conftest import audit_actions, invoke, write
from tests.rfl.records.conftest import SIGHTING, TRACING_REQUEST


class World:
    def __init__(self, client: FlaskClient, make: Factories) -> None:
        italy = make.society("IT")
        self.italy = italy
        self.client = client
        self.caseworker = make.actor_headers(Role.CASEWORKER, italy)
        self.officer = make.actor_headers(Role.TRACING_OFFICER, italy)
        self.officer_user = make.user(Role.TRACING_OFFICER, society=italy, email="officer@it.example.org")
        other = make.actor_headers(Role.CASEWORKER, make.society("DE"))
        self.request = self.save("tracing-requests", TRACING_REQUEST)
        closed = self.save("tracing-requests", TRACING_REQUEST | {"status": "closed"})
        self.closed_request = closed
        self.consented = self.save("sightings", self.sighting("Consented", "Person"))
        self.consent(self.consented, "given")
        self.unconsented = self.save("sightings", self.sighting("Silent", "Person"))
        self.withdrawn = self.save("sightings", self.sighting("Withdrawn", "Person"))
        self.consent(self.withdrawn, "given")
        self.consent(self.withdrawn, "withdrawn")
        self.foreign = self.save("tracing-requests", TRACING_REQUEST, headers=other)
        protected = self.sighting("Protected", "Person") | {
            "restrictions": {"no_cross_border": True, "exclude": []}
        }
        self.protected = self.save("sightings", protected)
        self.consent(self.protected, "given")
        excluding = self.sighting("Excluding", "Person") | {"restrictions": {"exclude": ["DE"]}}
        self.excluding = self.save("sightings", excluding)
        self.consent(self.excluding, "given")

    @staticmethod
    def sighting(given: str, family: str) -> dict[str, Any]:
        document = copy.deepcopy(SIGHTING)
        document["person"].update(given_name=given, family_name=family, document_id="DOC-77", phone="+39 1")
        return document

    def save(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> str:
        response = self.client.post(f"/api/v1/{path}", headers=headers or self.caseworker, json=body)
        assert response.status_code == 201, response.json
        response.close()
        return str(response.json["id"])

    def consent(self, sighting_id: str, decision: str) -> None:
        body = {"decision": decision, "scope": ["alive_and_well"], "method": "oral", "recipient": "partners"}
        if decision != "given":
            body["scope"] = []
        response = self.client.post(
            f"/api/v1/sightings/{sighting_id}/consents", headers=self.officer, json=body
        )
        assert response.status_code == 201, response.json


@pytest.fixture
def world(client: FlaskClient, make: Factories) -> World:
    return World(client, make)


def test_a_pfif_export_holds_own_requests_and_consented_sightings_only(app: Flask, world: World) -> None:
    response = world.client.get("/api/v1/exports?format=pfif", headers=world.officer)

    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    persons = {p.fields["person_record_id"]: p for p in pfif.parse(response.data)}
    assert set(persons) == {
        f"rfl.invalid/tracing_request.{world.request}",
        f"rfl.invalid/sighting.{world.consented}",
    }
    sought = persons[f"rfl.invalid/tracing_request.{world.request}"]
    assert sought.fields["given_name"] == "Mohammed"
    assert sought.notes[0].fields["status"] == "information_sought"
    found = persons[f"rfl.invalid/sighting.{world.consented}"]
    assert found.notes[0].fields["status"] == "believed_alive"
    # never whereabouts, contact details or identifiers
    text = response.get_data(as_text=True)
    for absent in ("Bari", "Via Roma", "+39", "DOC-77", "N0123456", "Amina"):
        assert absent not in text


def test_each_exported_record_says_when_partners_must_delete_it(
    world: World, make: Factories, clock: FakeClock
) -> None:
    # Given the society keeps unmatched sightings for a year, and requests by the built-in periods
    admin = make.actor_headers(Role.ADMIN, world.italy)
    periods = {"periods": {"sighting_unmatched": 365}}
    assert world.client.put("/api/v1/retention-policy", headers=admin, json=periods).status_code == 200

    # When it exports as PFIF and as CSV
    pfif_export = world.client.get("/api/v1/exports?format=pfif", headers=world.officer)
    csv_export = world.client.get("/api/v1/exports?format=csv", headers=world.officer)

    # Then the sighting expires a year after its registration, and the live request on the day it
    # would be erased were it closed today (five years for a request closed without a match)
    persons = {p.fields["person_record_id"]: p for p in pfif.parse(pfif_export.data)}
    rows = {row["record_type"]: row for row in csv.DictReader(io.StringIO(csv_export.get_data(as_text=True)))}
    registered = datetime.fromisoformat(rows["sighting"]["created_at"])
    in_a_year = (registered + timedelta(days=365)).strftime("%Y-%m-%dT00:00:00Z")
    in_five_years = (clock.now + timedelta(days=5 * 365)).strftime("%Y-%m-%dT00:00:00Z")
    assert persons[f"rfl.invalid/sighting.{world.consented}"].fields["expiry_date"] == in_a_year
    assert persons[f"rfl.invalid/tracing_request.{world.request}"].fields["expiry_date"] == in_five_years
    assert rows["sighting"]["expiry_date"] == in_a_year[:10]
    assert rows["tracing_request"]["expiry_date"] == in_five_years[:10]


def test_a_csv_export_has_the_same_records(world: World) -> None:
    response = world.client.get("/api/v1/exports?format=csv", headers=world.officer)

    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert response.mimetype == "text/csv"
    assert [(row["record_type"], row["status"]) for row in rows] == [
        ("tracing_request", "information_sought"),
        ("sighting", "believed_alive"),
    ]
    assert rows[0]["father_name"] == "Yusuf"
    assert rows[0]["alternate_names"] == "Abu Yusuf"
    assert "phone" not in rows[0]
    assert "Bari" not in response.get_data(as_text=True)


def test_an_export_is_audited_with_its_record_ids(app: Flask, world: World) -> None:
    world.client.get("/api/v1/exports?format=pfif", headers=world.officer)

    exported = [
        (action, object_id) for action, _, object_id in audit_actions(app) if action.endswith("export")
    ]
    assert exported == [
        ("tracing_request.export", world.request),
        ("sighting.export", world.consented),
    ]
    assert ("export.run", "ok", None) in audit_actions(app)
    # protected sightings never leave, although their person consented; withholding them is audited
    assert ("sighting.restriction_applied", "denied", world.protected) in audit_actions(app)
    assert ("sighting.restriction_applied", "denied", world.excluding) in audit_actions(app)


def test_only_officers_export(world: World) -> None:
    assert world.client.get("/api/v1/exports?format=pfif", headers=world.caseworker).status_code == 403


def test_the_command_line_export_is_the_same(app: Flask, world: World) -> None:
    result = invoke(app, "export", "pfif", "--society", "IT", "--user", "officer@it.example.org")

    assert result.exit_code == 0, result.output
    assert len(pfif.parse(result.stdout_bytes)) == 2


@pytest.fixture
def other_instance(throwaway_database_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Flask]:
    migrate.upgrade(throwaway_database_url)
    application = create_app(make_settings(throwaway_database_url, tmp_path / "other"), clock=clock)
    yield application
    db.engine_of(application).dispose()


IDENTITY = ("full_name", "given_name", "family_name", "alternate_names", "sex", "birth_date", "age")


def people(application: Flask) -> set[tuple[str, tuple[tuple[str, Any], ...]]]:
    with application.app_context():
        crypto = application.extensions["rfl"].crypto(db.session)
        found = set()
        for kind, model in ((records.TRACING_REQUESTS, TracingRequest), (records.SIGHTINGS, Sighting)):
            for record in db.session.scalars(sa.select(model)):
                try:
                    identity = records.read_identity(crypto, kind, record)
                except Exception:  # noqa: S112 (not shared: another society's or unconsented)
                    continue
                found.add(
                    (kind.name, tuple((n, str(identity[n])) for n in IDENTITY if identity.get(n) is not None))
                )
        return found


def test_a_pfif_round_trip_gives_the_same_people(
    app: Flask, world: World, other_instance: Flask, clock: FakeClock, tmp_path: Path
) -> None:
    # Given Italy's export
    exported = world.client.get("/api/v1/exports?format=pfif", headers=world.officer).data
    # When another instance's society imports it (a day later: records carry the real creation time)
    clock.now = datetime.now(UTC) + timedelta(days=1)
    other = Factories(other_instance, clock)
    other.user(Role.TRACING_OFFICER, society=other.society("GR"), email="officer@gr.example.org")
    result = invoke(
        other_instance,
        "import",
        "pfif",
        write(tmp_path, "export.xml", exported),
        "--society",
        "GR",
        "--user",
        "officer@gr.example.org",
        "--legal-basis",
        "vital_interest",
    )

    # Then it holds the same people, sought and found as they were
    assert result.exit_code == 0, result.output
    shared_in_italy = {
        person
        for person in people(app)
        if any(name == ("given_name", "Mohammed") for name in person[1])
        or ("given_name", "Consented") in person[1]
    }
    assert people(other_instance) == shared_in_italy
    assert len(shared_in_italy) == 2
