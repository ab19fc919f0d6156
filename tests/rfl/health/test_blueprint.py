"""/healthz reports whether the database answers."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from rfl import create_app
from tests.conftest import make_settings


def test_healthy_when_the_database_answers(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_unavailable_when_the_database_does_not_answer(tmp_path: Path) -> None:
    unreachable = f"sqlite:///{tmp_path / 'missing-dir' / 'nothing.sqlite3'}"
    app = create_app(make_settings(unreachable, tmp_path))

    response = app.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.json["database"] == "unreachable"
