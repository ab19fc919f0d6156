"""/healthz reports whether the database answers."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from rfl import create_app
from rfl.accounts.models import Role
from tests.conftest import Factories, make_settings
from tests.rfl.records.conftest import SIGHTING


def test_healthy_when_the_database_answers(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "matching_backlog": 0}


def test_the_matching_backlog_counts_records_waiting_for_proposals(
    client: FlaskClient, make: Factories
) -> None:
    headers = make.actor_headers(Role.CASEWORKER)
    for _ in range(2):
        client.post("/api/v1/sightings", headers=headers, json=SIGHTING)  # not closed: nothing drained

    assert client.get("/healthz").json["matching_backlog"] == 2


def test_unavailable_when_the_database_does_not_answer(tmp_path: Path) -> None:
    unreachable = f"sqlite:///{tmp_path / 'missing-dir' / 'nothing.sqlite3'}"
    app = create_app(make_settings(unreachable, tmp_path))

    response = app.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.json["database"] == "unreachable"
