"""Request bodies are checked once, before any view: JSON of bounded shape, or a 400/415 problem."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from rfl.accounts.models import Role, ThrottleHit
from rfl.audit.models import AuditEvent
from rfl.http.json_body import (
    MAX_DEPTH,
    MAX_INTEGER_DIGITS,
    UPLOAD_LIMIT_ATTRIBUTE,
    MalformedJson,
    parse_json,
)
from rfl.records.models import TracingRequest
from tests.conftest import Factories
from tests.rfl.http.test_errors import assert_problem
from tests.rfl.records.conftest import TRACING_REQUEST

MERGE_PATCH = "application/merge-patch+json"

# The review's bodies: each made a 500 before.
HOSTILE_BODIES = {
    "nested 321 levels (642 bytes)": "[" * 321 + "]" * 321,
    "an integer of 4,301 digits": '{"email": ' + "9" * 4301 + ', "password": "x"}',
    "a lone surrogate escape": '{"email": "a\\ud800@example.org", "password": "correct horse battery"}',
    "a lone low surrogate in a key": '{"q\\udc00": "Amina"}',
}
MALFORMED_BODIES = {
    "cut short": '{"email": "a@example.org", ',
    "not JSON at all": "{not json",
    "NaN": '{"limit": NaN}',
    "not UTF-8": b'{"q": "\xff\xfe"}',
}


def body_routes(app: Flask) -> list[tuple[str, str]]:
    """Every route that takes a JSON body, with a URL that reaches it (unknown ids are fine); file
    uploads take multipart instead (tests/rfl/exchange)."""
    routes = []
    for rule in app.url_map.iter_rules():
        if getattr(app.view_functions[rule.endpoint], UPLOAD_LIMIT_ATTRIBUTE, None) is not None:
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            path = rule.rule
            for argument in rule.arguments:
                path = path.replace(f"<uuid:{argument}>", str(uuid.uuid4()))
            routes.append((method, path))
    return routes


def send(client: FlaskClient, method: str, path: str, body: str | bytes, content_type: str) -> object:
    return client.open(path, method=method, data=body, content_type=content_type)


@pytest.mark.parametrize("body", list(HOSTILE_BODIES.values()) + list(MALFORMED_BODIES.values()))
def test_hostile_and_malformed_json_is_a_400_problem_on_every_route(
    app: Flask, client: FlaskClient, make: Factories, body: str | bytes
) -> None:
    headers = make.actor_headers(Role.ADMIN)
    routes = body_routes(app)
    assert ("POST", "/api/v1/auth/token") in routes
    assert len(routes) >= 8

    for method, path in routes:
        content_type = MERGE_PATCH if method == "PATCH" else "application/json"
        response = client.open(path, method=method, data=body, content_type=content_type, headers=headers)

        assert_problem(response, 400)
        assert response.json["type"] == "urn:rfl:problem:malformed-json", (method, path)
        assert response.json["detail"].startswith("The request body is not valid JSON: ")


def test_the_detail_says_what_is_wrong_without_quoting_the_body(client: FlaskClient) -> None:
    details = {
        name: client.post("/api/v1/auth/token", data=body, content_type="application/json").json["detail"]
        for name, body in (HOSTILE_BODIES | MALFORMED_BODIES).items()
    }

    assert "nested more than 32 levels" in details["nested 321 levels (642 bytes)"]
    assert "more than 64 digits" in details["an integer of 4,301 digits"]
    assert "unpaired surrogate" in details["a lone surrogate escape"]
    assert "unpaired surrogate" in details["a lone low surrogate in a key"]
    assert "line 1" in details["cut short"]
    assert "NaN is not a JSON value" in details["NaN"]
    assert "not UTF-8" in details["not UTF-8"]
    assert not any("example.org" in detail or "999" in detail for detail in details.values())


def test_a_refused_body_changes_nothing(client: FlaskClient, make: Factories) -> None:
    headers = make.actor_headers(Role.CASEWORKER)
    entries = make.scalar(sa.select(sa.func.count()).select_from(AuditEvent))

    for body in HOSTILE_BODIES.values():
        client.post("/api/v1/auth/token", data=body, content_type="application/json")
        client.post("/api/v1/tracing-requests", data=body, content_type="application/json", headers=headers)

    assert make.scalar(sa.select(sa.func.count()).select_from(TracingRequest)) == 0
    assert make.scalar(sa.select(sa.func.count()).select_from(ThrottleHit)) == 0
    assert make.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == entries


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_body_not_declared_json_is_a_415_problem(
    client: FlaskClient, make: Factories, content_type: str
) -> None:
    headers = make.actor_headers(Role.CASEWORKER)

    login = client.post("/api/v1/auth/token", data='{"email": "a@example.org"}', content_type=content_type)
    create = client.post(
        "/api/v1/tracing-requests", data='{"message": "x"}', content_type=content_type, headers=headers
    )

    for response in (login, create):
        assert_problem(response, 415)
        assert response.json["detail"] == "The request body must be sent as application/json."


def test_patch_takes_merge_patch_or_plain_json_and_names_both_when_refusing(
    client: FlaskClient, make: Factories
) -> None:
    headers = make.actor_headers(Role.CASEWORKER)
    created = client.post("/api/v1/tracing-requests", json=TRACING_REQUEST, headers=headers)
    url = f"/api/v1/tracing-requests/{created.json['id']}"

    as_merge_patch = client.patch(
        url,
        data='{"message": "one"}',
        content_type=MERGE_PATCH,
        headers=headers | {"If-Match": created.headers["ETag"]},
    )
    as_json = client.patch(
        url,
        data='{"message": "two"}',
        content_type="application/json",
        headers=headers | {"If-Match": as_merge_patch.headers["ETag"]},
    )
    as_text = client.patch(
        url,
        data='{"message": "three"}',
        content_type="text/plain",
        headers=headers | {"If-Match": as_json.headers["ETag"]},
    )

    assert as_merge_patch.status_code == 200
    assert as_json.status_code == 200
    assert_problem(as_text, 415)
    assert as_text.headers["Accept-Patch"] == f"{MERGE_PATCH}, application/json"
    assert client.get(url, headers=headers).json["message"] == "two"


def test_requests_without_a_body_are_not_refused(client: FlaskClient, make: Factories) -> None:
    headers = make.actor_headers(Role.CASEWORKER)

    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    assert client.get("/healthz", data="ignored", content_type="text/plain").status_code == 200


def test_an_unknown_route_is_a_404_whatever_its_body(client: FlaskClient) -> None:
    assert_problem(client.post("/api/v1/nothing-here", data="{not json", content_type="text/plain"), 404)


class TestParseJson:
    def test_values_within_the_bounds_parse(self) -> None:
        nested: object = "leaf"
        for _ in range(MAX_DEPTH):
            nested = [nested]
        digits = int("9" * MAX_INTEGER_DIGITS)

        assert parse_json(b'{"name": "Zainab \\ud83d\\ude00", "n": -1.5e3}') == {
            "name": "Zainab 😀",
            "n": -1500.0,
        }
        assert parse_json(str(digits).encode()) == digits
        assert parse_json(str(-digits).encode()) == -digits
        assert parse_json(repr(nested).replace("'", '"').encode()) == nested

    @pytest.mark.parametrize(
        "body",
        [
            b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
            b'{"a": ' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1),
            b"[" * 100_000,  # deeper than Python's own recursion limit
            b"1" * (MAX_INTEGER_DIGITS + 1),
            b"-" + b"1" * (MAX_INTEGER_DIGITS + 1),
            b"1e999",
            b"Infinity",
            b'"\\udfff"',
            b'"\\ud800 a"',
            b"\xef\xbb\xbf{}",  # a byte order mark is not JSON
        ],
    )
    def test_values_beyond_the_bounds_are_refused(self, body: bytes) -> None:
        with pytest.raises(MalformedJson):
            parse_json(body)
