"""`rfl keys rotate` rewraps a society's data keys without touching records; `retire` destroys old KEKs."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from rfl.accounts.models import Role
from rfl.cli import main
from rfl.crypto.models import DataKey
from rfl.extensions import app_services
from rfl.records.models import Sighting
from tests.conftest import Factories
from tests.rfl.records.conftest import SIGHTING


def invoke(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(main, ["keys", *args])


def test_rotation_rewraps_keys_and_records_stay_readable(
    app: Flask, client: FlaskClient, make: Factories
) -> None:
    society = make.society("IT")
    headers = make.actor_headers(Role.CASEWORKER, society)
    record_id = client.post("/api/v1/sightings", headers=headers, json=SIGHTING).json["id"]
    ciphertext_before = make.scalar(sa.select(Sighting.person_given_name))
    old_version = app_services(app).keys.active_kek_version(str(society.id))

    active_retire = invoke(app, "retire", "--society", "IT", "--version", str(old_version))
    rotated = invoke(app, "rotate", "--society", "IT")
    app_services(app).key_cache.clear()
    retired = invoke(app, "retire", "--society", "IT", "--version", str(old_version))

    assert active_retire.exit_code == 1
    assert rotated.exit_code == 0, rotated.output
    assert "1 data keys rewrapped, 0 failed" in rotated.output
    assert retired.exit_code == 0, retired.output
    assert (
        make.scalar(sa.select(DataKey.kek_version).where(DataKey.ring_id == str(society.id)))
        == old_version + 1
    )
    assert make.scalar(sa.select(Sighting.person_given_name)) == ciphertext_before
    assert client.get(f"/api/v1/sightings/{record_id}", headers=headers).json["person"] == SIGHTING["person"]


def test_unknown_society_is_refused(app: Flask) -> None:
    result = invoke(app, "rotate", "--society", "XX")

    assert result.exit_code == 1
    assert "society" in result.output
