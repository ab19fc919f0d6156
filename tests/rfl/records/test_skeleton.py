"""The plain skeleton the reports count from: a sighting's condition code, and when a record closed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask

from privacy import Subject
from rfl.accounts.services import actor_of
from rfl.audit.models import AuditEvent
from rfl.cli import main
from rfl.db import db
from rfl.extensions import app_services
from rfl.identity import Actor, Role
from rfl.records import services
from rfl.records.models import Condition, RecordStatus, Sighting
from rfl.records.schemas import SightingInputSchema, SightingUpdateSchema
from tests.conftest import Factories, FakeClock, unaudited
from tests.rfl.records.conftest import SIGHTING


def _document(changes: dict[str, Any] | None = None, *, update: bool = False) -> dict[str, Any]:
    body = {"restrictions": {"no_cross_border": False, "exclude": []}} | SIGHTING | (changes or {})
    schema = SightingUpdateSchema() if update else SightingInputSchema()
    loaded: dict[str, Any] = schema.load(body)
    return loaded


def _create(app: Flask, actor: Actor, clock: FakeClock, changes: dict[str, Any] | None = None) -> uuid.UUID:
    with app.app_context(), db.transaction() as session:
        view = services.create_record(
            session,
            app_services(app).crypto(session),
            actor,
            services.SIGHTINGS,
            _document(changes),
            now=clock.now,
            audit=unaudited,
        )
        return view.id


def _update(
    app: Flask, actor: Actor, clock: FakeClock, sighting_id: uuid.UUID, changes: dict[str, Any]
) -> None:
    with app.app_context(), db.transaction() as session:
        crypto = app_services(app).crypto(session)
        current = services.read_record(
            session, crypto, actor, services.SIGHTINGS, sighting_id, audit=unaudited
        )
        document = current.document | {"legal_basis": "vital_interest"} | changes
        services.update_record(
            session,
            crypto,
            actor,
            services.SIGHTINGS,
            current,
            document=_document(document, update=True),
            now=clock.now,
            audit=unaudited,
        )


def _stored(app: Flask, sighting_id: uuid.UUID) -> Sighting:
    with app.app_context(), db.transaction() as session:
        return session.get_one(Sighting, sighting_id)


def test_the_condition_code_follows_the_encrypted_condition(
    app: Flask, make: Factories, clock: FakeClock
) -> None:
    caseworker = actor_of(make.user(Role.CASEWORKER))

    sighting_id = _create(app, caseworker, clock, {"condition": "detained"})
    created = _stored(app, sighting_id)
    _update(app, caseworker, clock, sighting_id, {"condition": "deceased"})
    updated = _stored(app, sighting_id)

    assert (created.condition_code, created.deceased) == (Condition.DETAINED, False)
    assert (updated.condition_code, updated.deceased) == (Condition.DECEASED, True)


def test_closed_at_is_set_on_closing_kept_on_saving_again_and_cleared_on_reopening(
    app: Flask, make: Factories, clock: FakeClock
) -> None:
    caseworker = actor_of(make.user(Role.CASEWORKER))
    sighting_id = _create(app, caseworker, clock)
    assert _stored(app, sighting_id).closed_at is None

    _update(app, caseworker, clock, sighting_id, {"status": "closed"})
    closed = _stored(app, sighting_id)
    _update(app, caseworker, clock, sighting_id, {"condition": "hospitalised"})  # still closed
    saved_again = _stored(app, sighting_id)
    _update(app, caseworker, clock, sighting_id, {"status": "open"})
    reopened = _stored(app, sighting_id)

    assert closed.status is RecordStatus.CLOSED
    assert isinstance(closed.closed_at, datetime)
    assert saved_again.condition_code is Condition.HOSPITALISED
    assert saved_again.closed_at == closed.closed_at
    assert reopened.closed_at is None


def test_backfill_decrypts_each_missing_condition_in_memory_and_audits_the_read(
    app: Flask, make: Factories, clock: FakeClock
) -> None:
    society = make.society()
    caseworker = actor_of(make.user(Role.CASEWORKER, society=society))
    alive = _create(app, caseworker, clock)
    detained = _create(app, caseworker, clock, {"condition": "detained"})
    erased = _create(app, caseworker, clock, {"condition": "hospitalised"})
    with app.app_context(), db.transaction() as session:
        # Registered before the code was kept: only the ciphertext knows the condition.
        session.execute(sa.update(Sighting).values(condition_code=None))
        person = session.get_one(Sighting, erased)
        subject = Subject(ring_id=str(society.id), subject_id=str(person.found_subject_id))
        app_services(app).crypto(session).vault.shred(subject)

    result = app.test_cli_runner().invoke(main, ["records", "backfill-conditions", "--batch", "2"])

    assert result.exit_code == 0, result.output
    assert "2 condition codes filled in, 1 sightings unreadable (erased)" in result.output
    assert _stored(app, alive).condition_code is Condition.ALIVE
    assert _stored(app, detained).condition_code is Condition.DETAINED
    assert _stored(app, erased).condition_code is None
    with app.app_context(), db.transaction() as session:
        events = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "sighting.backfill")).all()
    assert sorted(event.object_id or "" for event in events) == sorted([str(alive), str(detained)])
    assert all(event.fields == ["condition"] and event.owner_society_id == society.id for event in events)
