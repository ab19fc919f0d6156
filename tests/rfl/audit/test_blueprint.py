"""Auditor endpoints, and the entries the accounts area leaves in the log."""

from __future__ import annotations

import base64

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from privacy import verify_checkpoint, verify_consistency, verify_inclusion
from rfl.accounts.models import Role, Society
from rfl.audit.models import AuditEvent
from rfl.db import db
from rfl.extensions import app_services
from tests.conftest import DEFAULT_PASSWORD, Factories
from tests.rfl.audit.conftest import fill_log
from tests.rfl.records.conftest import sighting


def actions(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (e.action, e.outcome) for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq))
        ]


def b64(value: str) -> bytes:
    return base64.b64decode(value)


def test_logins_and_refusals_are_audited_without_personal_data(
    app: Flask, client: FlaskClient, make: Factories
) -> None:
    make.user(Role.CASEWORKER, email="caseworker.secret@example.org")
    client.post(
        "/api/v1/auth/token", json={"email": "caseworker.secret@example.org", "password": "wrong password!"}
    )
    token = client.post(
        "/api/v1/auth/token", json={"email": "caseworker.secret@example.org", "password": DEFAULT_PASSWORD}
    ).json["token"]
    client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})

    assert actions(app) == [("auth.login", "failed"), ("auth.login", "ok"), ("access.denied", "denied")]
    with app.app_context():
        dumped = " ".join(str(vars(e)) for e in db.session.scalars(sa.select(AuditEvent)))
    assert "caseworker.secret" not in dumped
    assert token not in dumped


def test_auditor_lists_and_filters_events(app: Flask, client: FlaskClient, make: Factories) -> None:
    society = make.society()
    headers = make.actor_headers(Role.AUDITOR, society)
    fill_log(app, 5, owner=society.id)

    page = client.get("/api/v1/audit/events?limit=3", headers=headers)
    rest = client.get(f"/api/v1/audit/events?cursor={page.json['next_cursor']}", headers=headers)
    one = client.get("/api/v1/audit/events?object_id=obj-2", headers=headers)

    assert page.status_code == 200
    assert [e["seq"] for e in page.json["items"]] == [0, 1, 2]
    assert [e["seq"] for e in rest.json["items"]][:2] == [3, 4]
    assert [e["object_id"] for e in one.json["items"]] == ["obj-2"]
    assert one.json["items"][0]["fields"] == ["given_name"]
    assert "audit.read" in [e["action"] for e in rest.json["items"]]  # reading the log is itself logged


def test_events_show_society_codes_and_filter_by_an_actors_email(
    app: Flask, client: FlaskClient, make: Factories
) -> None:
    society = make.society("AUD")
    headers = make.actor_headers(Role.AUDITOR, society)
    admin = make.user(Role.ADMIN, society=society, email="Admin.Person@example.org")
    client.post(
        "/api/v1/auth/token", json={"email": "admin.person@example.org", "password": DEFAULT_PASSWORD}
    )

    by_email = client.get("/api/v1/audit/events?actor=admin.person@example.org", headers=headers)
    by_id = client.get(f"/api/v1/audit/events?actor={admin.id}", headers=headers)
    nobody = client.get("/api/v1/audit/events?actor=stranger@example.org", headers=headers)

    assert by_email.status_code == 200
    assert by_email.json["items"] == by_id.json["items"]
    assert by_email.json["items"]
    assert {e["actor_society"] for e in by_email.json["items"]} == {"AUD"}
    assert {e["actor_user_id"] for e in by_email.json["items"]} == {str(admin.id)}
    assert nobody.json["items"] == []


def test_caseworkers_may_not_read_the_audit_log(client: FlaskClient, make: Factories) -> None:
    for path in ("events", "checkpoint", "verify", "proof?object_id=x", "consistency?from_size=1"):
        assert (
            client.get(f"/api/v1/audit/{path}", headers=make.actor_headers(Role.CASEWORKER)).status_code
            == 403
        )


def test_checkpoint_proofs_and_verification_fit_together(
    app: Flask, client: FlaskClient, make: Factories
) -> None:
    society = make.society()
    headers = make.actor_headers(Role.AUDITOR, society)
    fill_log(app, 6, owner=society.id)
    verifier = app_services(app).audit_signer.verifier()

    note = client.get("/api/v1/audit/checkpoint", headers=headers)
    checkpoint = verify_checkpoint(note.get_data(as_text=True), verifier)
    proofs = client.get("/api/v1/audit/proof?object_id=obj-4", headers=headers).json
    consistency = client.get(f"/api/v1/audit/consistency?from_size={checkpoint.size}", headers=headers).json
    verified = client.get("/api/v1/audit/verify", headers=headers).json

    assert note.mimetype == "text/plain"
    assert checkpoint.size == 6
    (proof,) = proofs["proofs"]
    verify_inclusion(
        proof["seq"],
        proofs["tree_size"],
        b64(proof["leaf_hash"]),
        [b64(p) for p in proof["proof"]],
        b64(proofs["root"]),
    )
    verify_consistency(
        checkpoint.size,
        consistency["tree_size"],
        [b64(p) for p in consistency["proof"]],
        checkpoint.root,
        b64(consistency["root"]),
    )
    assert verified["ok"] is True
    assert verified["problems"] == []


def test_bad_audit_queries_are_422(client: FlaskClient, make: Factories) -> None:
    headers = make.actor_headers(Role.AUDITOR)

    assert client.get("/api/v1/audit/consistency?from_size=999", headers=headers).status_code == 422
    assert client.get("/api/v1/audit/consistency?from_size=0", headers=headers).status_code == 422
    assert client.get("/api/v1/audit/proof", headers=headers).status_code == 422
    assert client.get("/api/v1/audit/events?since=yesterday", headers=headers).status_code == 422
    assert client.get("/api/v1/audit/events?cursor=bad", headers=headers).status_code == 422


def test_each_society_sees_only_the_entries_about_its_own_objects(
    app: Flask, client: FlaskClient, make: Factories
) -> None:
    italy, germany = make.society("IT"), make.society("DE", country="DE")
    italian = make.actor_headers(Role.CASEWORKER, italy)
    hidden = client.post(
        "/api/v1/sightings",
        headers=italian,
        json=sighting({"exclude": ["DE"]}, given_name="Tesfaye", family_name="Haile"),
    ).json["id"]
    client.post(
        "/api/v1/sightings/search",
        headers=make.actor_headers(Role.TRACING_OFFICER, germany),
        json={"q": "Tesfaye"},
    )

    def objects_seen_by(society: Society) -> set[str]:
        events = client.get(
            "/api/v1/audit/events?limit=200", headers=make.actor_headers(Role.AUDITOR, society)
        )
        return {event["object_id"] for event in events.json["items"]}

    assert hidden in objects_seen_by(italy)  # including that Germany's search was kept from it
    assert hidden not in objects_seen_by(germany)
