"""The ``rfl`` command line: bootstrap societies and users, never a password in argv."""

from __future__ import annotations

import socket
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from rfl.accounts.models import Role, Society, User
from rfl.audit.models import AuditEvent
from rfl.cli import main
from rfl.consent.models import Consent
from rfl.db import db
from rfl.demo import DemoCredential, seed_demo
from rfl.disclosures.models import Disclosure
from rfl.extensions import app_services
from rfl.idempotency.models import IdempotencyRecord
from rfl.records.models import TracingRequest
from tests.conftest import Factories, FakeClock, unaudited
from tests.rfl.records.conftest import SIGHTING

PASSWORD = "a long enough password"


def invoke(app: Flask, args: list[str], stdin: str | None = None):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(main, args, input=stdin)


def test_create_society_and_user(app: Flask, make: Factories) -> None:
    created = invoke(app, ["societies", "create", "--country", "it", "--name", "Italian Red Cross"])
    user = invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "Cw@Example.org",
            "--name",
            "N",
            "--role",
            "caseworker",
            "--society",
            "IT",
        ],
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )

    assert created.exit_code == 0, created.output
    assert user.exit_code == 0, user.output
    stored = make.scalar(sa.select(User).where(User.email == "cw@example.org"))
    assert stored is not None
    assert PASSWORD not in stored.password_hash
    society = make.scalar(sa.select(Society).where(Society.code == "IT"))
    assert society is not None
    assert society.country == "IT"
    assert stored.society_id == society.id


def test_non_national_society_needs_a_code(app: Flask, make: Factories) -> None:
    missing = invoke(app, ["societies", "create", "--name", "CTA", "--type", "central_tracing_agency"])
    created = invoke(
        app,
        ["societies", "create", "--name", "CTA", "--type", "central_tracing_agency", "--code", "ICRC-CTA"],
    )

    assert missing.exit_code != 0
    assert created.exit_code == 0, created.output
    assert make.scalar(sa.select(Society.country).where(Society.code == "ICRC-CTA")) is None


def test_duplicate_society_code_is_refused(app: Flask) -> None:
    invoke(app, ["societies", "create", "--country", "DE", "--name", "German Red Cross"])

    again = invoke(app, ["societies", "create", "--country", "DE", "--name", "Other"])

    assert again.exit_code == 1
    assert "already exists" in again.output


def test_password_is_never_taken_from_argv(app: Flask) -> None:
    result = invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "a@b.org",
            "--name",
            "N",
            "--role",
            "admin",
            "--society",
            "IT",
            "--password",
            "x",
        ],
    )

    assert result.exit_code == 2
    assert "No such option" in result.output


def test_mismatched_confirmation_short_password_and_unknown_society_fail(app: Flask, make: Factories) -> None:
    make.society("IT")
    args = ["users", "create", "--email", "a@b.org", "--name", "N", "--role", "admin", "--society"]

    mismatch = invoke(app, [*args, "IT"], stdin=f"{PASSWORD}\nsomething else entirely\n")
    short = invoke(app, [*args, "IT"], stdin="short\n")
    empty = invoke(app, [*args, "IT"], stdin="")
    unknown = invoke(app, [*args, "XX"], stdin=f"{PASSWORD}\n")

    assert [r.exit_code for r in (mismatch, short, empty)] == [2, 2, 2]
    assert unknown.exit_code == 1
    assert PASSWORD not in mismatch.output + short.output + unknown.output
    assert make.scalar(sa.select(User).where(User.email == "a@b.org")) is None


def test_demo_prints_working_credentials_and_seeds_records_once(app: Flask, make: Factories) -> None:
    result = invoke(app, ["demo", "--no-serve"])
    again = invoke(app, ["demo", "--no-serve"])

    assert result.exit_code == 0, result.output
    assert "Created 200 tracing requests" in result.output
    assert "Created" not in again.output
    token = next(line.split("token=")[1] for line in again.output.splitlines() if "token=" in line)
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    assert client.get("/api/v1/me", headers=headers).json["role"] == "caseworker"
    assert client.get("/api/v1/sightings", headers=headers).json["items"]
    # The search the demo suggests finds the other-spelling registrations seeded in Italy.
    assert "Abdulrahman Haddad" in again.output
    search = client.post("/api/v1/sightings/search", headers=headers, json={"q": "Abdulrahman Haddad"})
    assert search.json["items"][0]["score"] > 0.9
    assert make.scalar(sa.select(sa.func.count()).select_from(TracingRequest)) == 200
    # The first run proposes matches and walks one case to disclosure and one to a refusal.
    assert "match candidates are proposed" in result.output
    assert "Two cases were walked through" in result.output
    assert make.scalar(sa.select(sa.func.count()).select_from(Disclosure)) == 1
    assert make.scalar(sa.select(sa.func.count()).select_from(Consent)) == 2
    assert "Two cases were walked through" not in again.output


def audit_rows(make: Factories, action: str) -> list[AuditEvent]:
    with make.app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def test_creating_a_society_and_a_user_is_audited_like_the_api_does(app: Flask, make: Factories) -> None:
    invoke(app, ["societies", "create", "--country", "GR", "--name", "Hellenic Red Cross"])
    created = invoke(
        app,
        ["users", "create", "--email", "op@example.org", "--name", "N", "--role", "admin", "--society", "GR"],
        stdin=f"{PASSWORD}\n",
    )

    assert created.exit_code == 0, created.output
    society = make.scalar(sa.select(Society).where(Society.code == "GR"))
    user = make.scalar(sa.select(User).where(User.email == "op@example.org"))
    assert society is not None
    assert user is not None
    [society_entry] = audit_rows(make, "society.create")
    [user_entry] = audit_rows(make, "user.create")
    assert society_entry.object_id == str(society.id)
    assert user_entry.object_id == str(user.id)
    assert user_entry.owner_society_id == society.id
    assert user_entry.actor_user_id is None  # an operator on the command line
    assert "op@example.org" not in str(user_entry.fields)


def test_a_failed_command_leaves_no_entry(app: Flask, make: Factories) -> None:
    invoke(app, ["societies", "create", "--country", "FR", "--name", "French Red Cross"])
    again = invoke(app, ["societies", "create", "--country", "FR", "--name", "Again"])

    assert again.exit_code == 1
    assert len(audit_rows(make, "society.create")) == 1


def test_help_lists_only_rfls_own_commands(app: Flask) -> None:
    shown = invoke(app, ["--help"]).output

    for command in ("db", "societies", "users", "serve", "demo", "audit", "keys", "idempotency"):
        assert f"  {command}" in shown
    for flask_only in ("  run ", "  shell ", "  routes ", "--env-file", "--app"):
        assert flask_only not in shown


def test_demo_refuses_a_taken_port_before_seeding(app: Flask, make: Factories) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke(app, ["demo", "--port", str(port)])

    assert result.exit_code == 1
    assert f"127.0.0.1:{port} is already in use" in result.output
    assert make.scalar(sa.select(sa.func.count()).select_from(Society)) == 0


def test_a_second_demo_revokes_the_first_demos_tokens(app: Flask, make: Factories, clock: FakeClock) -> None:
    def seed() -> list[DemoCredential]:
        with app.app_context(), db.transaction() as session:
            services = app_services(app)
            return seed_demo(session, services.passwords, services.keys, now=clock.now, audit=unaudited)

    first, second = seed(), seed()

    client = app.test_client()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {first[0].token}"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {second[0].token}"}).status_code == 200


def test_idempotency_purge_removes_expired_keys_only(
    app: Flask, client: FlaskClient, make: Factories, clock: FakeClock
) -> None:
    caseworker = make.user(Role.CASEWORKER)
    old = {"Idempotency-Key": "old"} | make.auth(caseworker)
    assert client.post("/api/v1/sightings", headers=old, json=SIGHTING).status_code == 201
    clock.advance(timedelta(hours=25))
    with app.app_context(), db.transaction() as session:
        session.add(  # a key still within its 24 hours
            IdempotencyRecord(
                user_id=caseworker.id,
                key_hash=b"k" * 32,
                fingerprint=b"f" * 32,
                expires_at=clock.now + timedelta(hours=1),
            )
        )

    result = invoke(app, ["idempotency", "purge"])

    assert result.exit_code == 0, result.output
    assert "purged 1 expired" in result.output
    assert make.scalar(sa.select(sa.func.count()).select_from(IdempotencyRecord)) == 1
    assert len(audit_rows(make, "idempotency.purge")) == 1


def test_each_new_key_purges_a_bounded_batch_of_expired_ones(
    client: FlaskClient, make: Factories, clock: FakeClock
) -> None:
    caseworker = make.user(Role.CASEWORKER)
    old = {"Idempotency-Key": "old"} | make.auth(caseworker)
    client.post("/api/v1/sightings", headers=old, json=SIGHTING)
    clock.advance(timedelta(hours=25))

    fresh = {"Idempotency-Key": "fresh"} | make.auth(caseworker)
    client.post("/api/v1/sightings", headers=fresh, json=SIGHTING)

    stored = make.scalar(sa.select(IdempotencyRecord.key_hash))
    assert make.scalar(sa.select(sa.func.count()).select_from(IdempotencyRecord)) == 1
    assert stored is not None
    assert b"fresh" not in stored  # only a keyed hash of the key is kept
