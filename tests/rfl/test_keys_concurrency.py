"""`rfl keys rotate` beside `rfl societies create`, each in its own process, on one database and one
key file: afterwards every ring and KEK version is there and every data key unwraps.
"""

from __future__ import annotations

import uuid
from multiprocessing.synchronize import Barrier
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from privacy import FieldVault, Subject, load_key_file
from privacy.keys import wrap_aad
from rfl import create_app, migrate
from rfl.accounts import services as accounts
from rfl.accounts.models import Society
from rfl.cli import main
from rfl.crypto.keystore import DatabaseKeyStore
from rfl.crypto.models import DataKey
from rfl.db import db
from rfl.extensions import app_services
from rfl.settings import Settings
from tests.conftest import make_settings
from tests.processes import WAIT_SECONDS, run_at_once

ROTATIONS = 2
NEW_COUNTRIES = ("GR", "DE", "SE")


def _no_wait(_seconds: float) -> None:
    """Every process here rereads the key file at once (no stale worker): the sweep need not wait."""


def _create_key(app: Flask, society_id: uuid.UUID) -> None:
    with app.app_context(), db.transaction() as session:
        vault = FieldVault(app_services(app).keys, DatabaseKeyStore(session))
        vault.ensure_subject_key(Subject(str(society_id), str(uuid.uuid4())))


def _run(app: Flask, *args: str) -> None:
    result = app.test_cli_runner().invoke(main, list(args))
    if result.exit_code != 0:
        raise AssertionError(f"rfl {' '.join(args)}: {result.output}")


def rotate_kek_of_it(settings: Settings, start: Barrier) -> None:
    """An operator rotating IT's KEK several times (`rfl keys rotate`)."""
    app = create_app(settings, sleep=_no_wait)
    start.wait(WAIT_SECONDS)
    for _ in range(ROTATIONS):
        _run(app, "keys", "rotate", "--society", "IT", "--batch-size", "3")


def create_societies(settings: Settings, start: Barrier) -> None:
    """An administrator creating societies (`rfl societies create`: a new ring each), each given data."""
    app = create_app(settings, sleep=_no_wait)
    start.wait(WAIT_SECONDS)
    for country in NEW_COUNTRIES:
        _run(app, "societies", "create", "--country", country, "--name", f"Red Cross {country}")
        with app.app_context(), db.transaction() as session:
            society_id = accounts.get_society_by_code(session, country).id
        _create_key(app, society_id)


def _seed_it(app: Flask, keys: int) -> Society:
    _run(app, "societies", "create", "--country", "IT", "--name", "Italian Red Cross")
    with app.app_context(), db.transaction() as session:
        society = accounts.get_society_by_code(session, "IT")
    for _ in range(keys):
        _create_key(app, society.id)
    return society


def test_rotations_beside_new_societies_lose_no_key(throwaway_database_url: str, tmp_path: Path) -> None:
    # Given a database and key file with IT's data keys
    migrate.upgrade(throwaway_database_url)
    settings = make_settings(throwaway_database_url, tmp_path / "instance")
    app = create_app(settings)
    it = _seed_it(app, keys=7)

    # When IT's KEK is rotated while societies are created
    run_at_once([(rotate_kek_of_it, (settings,)), (create_societies, (settings,))])

    # Then every society's ring and every IT KEK version is in the key file,
    keys = load_key_file(settings.key_file)
    with app.app_context():
        society_ids = set(db.session.scalars(sa.select(Society.id)))
        rows = db.session.scalars(sa.select(DataKey)).all()
    assert len(society_ids) == 1 + len(NEW_COUNTRIES)
    assert {str(s) for s in society_ids} <= set(keys.ring_ids)
    assert list(keys.kek_versions(str(it.id))) == list(range(1, ROTATIONS + 2))
    # every data key is under IT's new KEK or another ring's first, and unwraps with the key file left
    assert {row.kek_version for row in rows if row.ring_id == str(it.id)} == {ROTATIONS + 1}
    assert len(rows) == 7 + len(NEW_COUNTRIES)
    for row in rows:
        aad = wrap_aad(row.ring_id, row.subject_id, row.dek_version, row.kek_version)
        assert len(keys.unwrap_dek(row.ring_id, row.kek_version, row.wrapped, aad)) == 32
    # and the audit log, appended to by every process, still verifies
    verified = app.test_cli_runner().invoke(main, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    db.engine_of(app).dispose()
