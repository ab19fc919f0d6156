"""One error shape (problem+json) for every error, and no personal data in any of them."""

from __future__ import annotations

import base64
import io
import json
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from rfl import create_app
from rfl.accounts.models import Role
from rfl.db import db, make_engine
from rfl.extensions import app_services
from rfl.http.auth import public
from rfl.logs import configure_logging
from tests.conftest import Factories, FakeClock, make_settings

PROBLEM = "application/problem+json"
MARKER = "MARKER-Zainab-al-Hashimi-7731"


def assert_problem(response, status: int) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert {"type", "title", "status"} <= set(body)


def test_unknown_path_is_a_404_problem(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/nothing-here"), 404)


def test_wrong_method_is_a_405_problem_with_allow(client: FlaskClient) -> None:
    response = client.put("/healthz")

    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_oversized_body_is_a_413_problem(client: FlaskClient, app: Flask) -> None:
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)

    assert_problem(client.post("/api/v1/auth/token", data=big, content_type="application/json"), 413)


def test_malformed_json_is_a_4xx_problem(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/token", data="{not json", content_type="application/json")

    assert 400 <= response.status_code < 500
    assert response.mimetype == PROBLEM


def test_validation_errors_name_each_field(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/token", json={"email": 5})

    assert_problem(response, 422)
    assert set(response.json["errors"]) == {"email", "password"}
    assert all(isinstance(messages, list) for messages in response.json["errors"].values())


@pytest.fixture
def log_stream(app: Flask) -> io.StringIO:
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    return stream


def test_unexpected_errors_are_a_bare_500_and_log_no_message(
    app: Flask, client: FlaskClient, log_stream: io.StringIO
) -> None:
    def explode() -> str:
        raise RuntimeError(f"lookup failed for {MARKER}")

    app.add_url_rule("/boom", "boom", public(explode))

    response = client.get("/boom")

    assert_problem(response, 500)
    assert MARKER not in response.get_data(as_text=True)
    log_lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    assert any(line.get("exception_type") == "RuntimeError" for line in log_lines)
    assert MARKER not in log_stream.getvalue()


def test_request_id_is_returned_and_logged(client: FlaskClient, log_stream: io.StringIO) -> None:
    response = client.get("/healthz")

    access = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    assert access[-1]["request_id"] == response.headers["X-Request-ID"]
    assert access[-1]["route"] == "/healthz"


def test_a_client_request_id_is_never_taken(client: FlaskClient) -> None:
    # It would end up in audit entries, which are never erased: free text from a client has no place there.
    response = client.get("/healthz", headers={"X-Request-ID": "Amina.Al-Hassan.Berlin"})

    assert response.headers["X-Request-ID"] != "Amina.Al-Hassan.Berlin"


def test_personal_data_in_requests_never_reaches_the_log(
    client: FlaskClient, log_stream: io.StringIO, make
) -> None:  # type: ignore[no-untyped-def]
    from rfl.accounts.models import Role

    headers = make.actor_headers(Role.ADMIN)
    token = headers["Authorization"].split()[1]
    client.post("/api/v1/auth/token", json={"email": f"{MARKER}@example.org", "password": MARKER})
    client.post(
        "/api/v1/users",
        headers=headers,
        json={
            "email": f"{MARKER.lower()}@example.org",
            "name": MARKER,
            "role": "caseworker",
            "password": MARKER,
        },
    )
    client.post(
        "/api/v1/users",
        headers=headers,
        json={"email": MARKER, "name": MARKER, "role": MARKER, "password": ""},
    )
    client.get(f"/api/v1/users?cursor={MARKER}", headers=headers)

    logged = log_stream.getvalue()
    assert logged  # the requests were logged ...
    assert MARKER not in logged  # ... without the personal data they carried
    assert MARKER.lower() not in logged
    assert token not in logged


def _cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_forged_cursors_are_422_not_500(client: FlaskClient, make: Factories) -> None:
    from rfl.accounts.models import Role

    admin = make.actor_headers(Role.ADMIN)
    auditor = make.actor_headers(Role.AUDITOR)
    naive = _cursor(["2026-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"])
    edge = _cursor(["0001-01-01T00:00:00+05:00", "00000000-0000-0000-0000-000000000000"])
    huge = base64.urlsafe_b64encode(b"seq:99999999999999999999999").decode().rstrip("=")

    assert client.get(f"/api/v1/users?cursor={naive}", headers=admin).status_code == 422
    assert client.get(f"/api/v1/users?cursor={edge}", headers=admin).status_code == 422
    assert client.get(f"/api/v1/audit/events?cursor={huge}", headers=auditor).status_code == 422


def test_nul_characters_are_refused_everywhere(client: FlaskClient, make: Factories) -> None:
    from rfl.accounts.models import Role

    login = client.post("/api/v1/auth/token", json={"email": "a\x00b@example.org", "password": "x"})
    query = client.get("/api/v1/audit/events?action=a%00b", headers=make.actor_headers(Role.AUDITOR))

    assert login.status_code == 422
    assert query.status_code == 422


# --- a database that is unreachable or lost: 503 with Retry-After, logged by type only --------------


@pytest.fixture
def unreachable_database_url(postgres_base_url: str | None, tmp_path: Path) -> str:
    """A database URL of the suite's kind that nothing answers (a refused connection)."""
    if postgres_base_url is None:
        return f"sqlite:///{tmp_path / 'no-such-folder' / 'rfl.sqlite3'}"
    # Port 1 on the loopback: nothing listens there, the connection is refused at once.
    return make_url(postgres_base_url).set(port=1).render_as_string(hide_password=False)


def test_an_unreachable_database_is_a_503_with_retry_after_on_every_kind_of_route(
    unreachable_database_url: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(unreachable_database_url, tmp_path / "instance"))
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    client = app.test_client()
    bearer = {"Authorization": "Bearer some-token"}

    answers = [
        client.post("/api/v1/auth/token", json={"email": "a@example.org", "password": "x" * 12}),
        client.get("/api/v1/me", headers=bearer),
        client.get(f"/api/v1/sightings/{uuid.uuid4()}", headers=bearer),
        client.post("/api/v1/sightings/search", json={"q": "Amina"}, headers=bearer),
    ]

    for response in answers:
        assert_problem(response, 503)
        assert int(response.headers["Retry-After"]) >= 1
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    unavailable = [event for event in events if event["event"] == "database_unavailable"]
    assert len(unavailable) == len(answers)
    assert {event["exception_type"] for event in unavailable} == {"OperationalError"}
    # By type only: the driver's message (host, port, file path) stays out of the log.
    assert "refused" not in stream.getvalue().lower()
    assert "unable to open" not in stream.getvalue().lower()
    db.engine_of(app).dispose()


def test_a_pool_without_a_free_connection_is_a_503(app: Flask, client: FlaskClient) -> None:
    def wait_for_a_connection() -> str:
        raise PoolTimeoutError("QueuePool limit of size 5 overflow 10 reached")

    app.add_url_rule("/pool-exhausted", "pool_exhausted", public(wait_for_a_connection))

    response = client.get("/pool-exhausted")

    assert_problem(response, 503)
    assert response.headers["Retry-After"] == "5"  # the default wait, in whole seconds


def test_other_database_errors_are_still_a_500(app: Flask, client: FlaskClient) -> None:
    def query_a_missing_table() -> str:
        db.session.execute(sa.text("SELECT * FROM no_such_table"))
        return "unreachable"

    app.add_url_rule("/bad-query", "bad_query", public(query_a_missing_table))

    assert_problem(client.get("/bad-query"), 500)


postgres_only = pytest.mark.skipif(
    not os.environ.get("RFL_TEST_DATABASE_URL"), reason="a server that drops connections is PostgreSQL's"
)


def _terminate_backends(app: Flask, *, pid: int | None = None) -> None:
    """What a PostgreSQL restart does to the application's connections (one of them, or all)."""
    admin = make_engine(app_services(app).settings.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND (CAST(:pid AS integer) IS NULL OR pid = :pid)"
            ),
            {"pid": pid},
        )
    admin.dispose()


@postgres_only
def test_a_connection_lost_during_a_request_is_a_503_and_the_pool_recovers(committed_app: Flask) -> None:
    def lose_the_connection() -> str:
        own_pid = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
        _terminate_backends(committed_app, pid=own_pid)
        db.session.execute(sa.text("SELECT 1"))
        return "unreachable"

    committed_app.add_url_rule("/lose-connection", "lose_connection", public(lose_the_connection))
    client = committed_app.test_client()

    lost = client.get("/lose-connection")
    after = client.get("/healthz")

    assert_problem(lost, 503)
    assert after.status_code == 200


@postgres_only
def test_connections_dropped_between_requests_are_replaced_without_an_error(
    committed_app: Flask, clock: FakeClock
) -> None:
    make = Factories(committed_app, clock)
    headers = make.actor_headers(Role.CASEWORKER)
    client = committed_app.test_client()
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # the pool now holds a connection

    _terminate_backends(committed_app)

    assert client.get("/api/v1/me", headers=headers).status_code == 200
