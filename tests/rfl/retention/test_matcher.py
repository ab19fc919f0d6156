"""The matcher's stored name frequencies forget an erased person: subtracted when the fit counted the
person's current names, refitted when the names changed since the fit; older model versions are
destroyed either way (each counted the person too)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from matching import Matcher
from privacy import DecryptionError, FieldVault, KeyCache, Subject, WrappedDek, load_key_file
from rfl.accounts.models import Role
from rfl.cli import main
from rfl.crypto.models import DataKey
from rfl.db import db
from rfl.extensions import app_services
from rfl.matches import store
from rfl.matches.models import MatcherModel
from rfl.records.models import Sighting, TracingRequest
from rfl.records.services import SIGHTINGS, TRACING_REQUESTS, canonical_records
from tests.border import REQUEST, SIGHTING, Border, saved
from tests.conftest import Factories, FakeClock
from tests.rfl.retention.conftest import BackupKeyStore, new_case

RARE = "Zqxwvander"


def _fit_and_activate(app: Flask, times: int = 1) -> list[str]:
    """Fit on every record as it is now (``times`` versions, as successive fits would leave)."""
    versions = []
    with app.app_context(), db.transaction() as session:
        crypto = app_services(app).crypto(session)
        requests = session.scalars(sa.select(TracingRequest)).all()
        sightings = session.scalars(sa.select(Sighting)).all()
        left = canonical_records(crypto, TRACING_REQUESTS, requests)
        right = canonical_records(crypto, SIGHTINGS, sightings)
        for seed in range(times):
            matcher = Matcher.fit(left, right, seed=seed, source=f"test fit {seed}")
            versions.append(
                store.save_and_activate(
                    session, crypto, matcher, requests=len(left), sightings=len(right), labels=0
                ).version
            )
    return versions


def _stored_models(app: Flask) -> list[MatcherModel]:
    with app.app_context():
        return list(db.session.scalars(sa.select(MatcherModel)))


def _active_names(app: Flask) -> set[str]:
    with app.app_context(), db.transaction() as session:
        matcher = store.current_matcher(session, app_services(app).crypto(session))
        return set(matcher.frequencies.names)


def _more_records(client: FlaskClient, border: Border) -> None:
    for given in ("Tesfay", "Yusuf", "Omar"):
        body = copy.deepcopy(REQUEST)
        body["sought_person"] = {"given_name": given, "family_name": "Gebre", "birth_date": "1985"}
        saved(client, "/api/v1/tracing-requests", border.de_caseworker, body)
        sighting = copy.deepcopy(SIGHTING)
        sighting["person"] = {"given_name": given, "family_name": "Gebrey", "birth_date": "1985"}
        saved(client, "/api/v1/sightings", border.it_caseworker, sighting)


def test_an_erased_persons_names_leave_the_stored_frequencies(
    app: Flask, client: FlaskClient, border: Border, make: Factories
) -> None:
    case = new_case(client, border, make, sought_person={"given_name": RARE, "family_name": "Hassan"})
    _more_records(client, border)
    old_versions = _fit_and_activate(app, times=2)
    names_before = _active_names(app)

    answer = client.post(
        f"/api/v1/tracing-requests/{case.request_id}/erasure",
        headers=case.de_admin,
        json={"person": "sought_person", "reason": "data_subject_request"},
    )

    assert answer.status_code == 200, answer.json
    (kept,) = _stored_models(app)
    assert kept.active
    assert kept.version not in old_versions
    gone = names_before - _active_names(app)
    assert gone  # the rare name held by the erased person alone
    with app.app_context():
        for version in old_versions:
            assert db.session.get(MatcherModel, version) is None
        destroyed = db.session.scalars(sa.select(DataKey).where(DataKey.ring_id == store.SYSTEM_RING)).all()
    assert sum(key.wrapped == b"" for key in destroyed) == 2


def test_names_changed_since_the_fit_are_forgotten_by_a_new_fit(
    app: Flask, client: FlaskClient, border: Border, make: Factories, clock: FakeClock
) -> None:
    case = new_case(client, border, make, sought_person={"given_name": RARE, "family_name": "Hassan"})
    _fit_and_activate(app)
    # The edit comes after the fit (the application's clock and the database's default agree in use)
    clock.now = datetime.now(UTC) + timedelta(minutes=1)
    caseworker = make.actor_headers(Role.CASEWORKER, border.germany)
    admin = make.actor_headers(Role.ADMIN, border.germany)
    path = f"/api/v1/tracing-requests/{case.request_id}"
    current = client.get(path, headers=caseworker)
    edited = client.patch(
        path,
        headers={**caseworker, "If-Match": current.headers["ETag"]},
        json={"sought_person": {"given_name": "Mahmoud"}},
    )
    assert edited.status_code == 200, edited.json

    erased = client.post(
        f"{path}/erasure", headers=admin, json={"person": "sought_person", "reason": "objection"}
    )

    # Too few records are left to fit one: every stored model is destroyed and the default is used
    assert erased.status_code == 200, erased.json
    assert _stored_models(app) == []
    with app.app_context():
        assert store.active_version(db.session) is None


def test_old_models_in_a_backup_are_unrecoverable_after_the_system_ring_rotates_and_retires(
    app: Flask, client: FlaskClient, border: Border, make: Factories
) -> None:
    case = new_case(client, border, make, sought_person={"given_name": RARE, "family_name": "Hassan"})
    _more_records(client, border)
    (old_version,) = _fit_and_activate(app)
    # A backup taken before the erasure holds the old model and its wrapped data key
    with app.app_context():
        old = db.session.get_one(MatcherModel, old_version)
        subject = Subject(store.SYSTEM_RING, str(old.subject_id))
        key = db.session.get_one(DataKey, (subject.ring_id, subject.subject_id, 1))
        backup_key = WrappedDek(key.ring_id, key.subject_id, 1, key.kek_version, key.wrapped, key.created_at)
        backup_payload = old.payload

    def decrypts_from_backup() -> bool:
        vault = FieldVault(
            load_key_file(app_services(app).settings.key_file), BackupKeyStore(backup_key), cache=KeyCache()
        )
        try:
            vault.decrypt(subject, "matcher_models", "payload", old_version, backup_payload)
        except DecryptionError:
            return False
        return True

    client.post(
        f"/api/v1/tracing-requests/{case.request_id}/erasure",
        headers=case.de_admin,
        json={"person": "sought_person", "reason": "data_subject_request"},
    )
    assert decrypts_from_backup()
    runner = app.test_cli_runner()
    rotated = runner.invoke(main, ["keys", "rotate", "--system"])
    retired = runner.invoke(main, ["keys", "retire", "--system", "--version", str(backup_key.kek_version)])
    both = runner.invoke(main, ["keys", "retire", "--system", "--society", "DE", "--version", "1"])

    assert rotated.exit_code == 0, rotated.output
    assert retired.exit_code == 0, retired.output
    assert both.exit_code == 2
    assert not decrypts_from_backup()
    # The model in use still reads (its key was rewrapped under the new version)
    assert _active_names(app)
