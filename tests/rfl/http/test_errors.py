"""One error shape (problem+json) for every error, and no personal data in any of them."""

from __future__ import annotations

import base64
import io
import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from rfl.http.auth import public
from rfl.logs import configure_logging
from tests.conftest import Factories

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
