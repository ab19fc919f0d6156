"""The API description is complete: every operation says what it does and which errors it can answer."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture
def operations(client: FlaskClient) -> list[Operation]:
    spec = client.get("/api/openapi.json").json
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    ]


def test_every_operation_has_a_summary_and_a_description(operations: list[Operation]) -> None:
    missing = [
        f"{method} {path}"
        for method, path, operation in operations
        if not operation.get("summary") or not operation.get("description")
    ]

    assert missing == []


def test_every_operation_documents_the_errors_it_can_answer(operations: list[Operation]) -> None:
    gaps = []
    for method, path, operation in operations:
        documented = set(operation["responses"])
        expected = {"503"}
        if operation.get("security"):
            expected |= {"401", "403"}
        if "{" in path:
            expected.add("404")
        if "requestBody" in operation:
            expected |= {"400", "415", "422"}
        if method == "patch":
            expected |= {"412", "428"}
        if method == "post" and "201" in documented:
            expected.add("409")
        if not expected <= documented:
            gaps.append(f"{method} {path}: {sorted(expected - documented)}")

    assert gaps == []


def test_preconditions_and_idempotency_headers_are_documented(operations: list[Operation]) -> None:
    def headers(operation: dict[str, Any]) -> set[str]:
        return {p["name"] for p in operation.get("parameters", []) if p.get("in") == "header"}

    patches = [op for method, _, op in operations if method == "patch"]
    creates = {
        (method, path): op for method, path, op in operations if method == "post" and "201" in op["responses"]
    }
    disclosure = ("post", "/api/v1/matches/{match_id}/disclosures")

    assert patches
    assert all("If-Match" in headers(op) for op in patches)
    replayable = [op for key, op in creates.items() if op.get("security") and key != disclosure]
    assert all("Idempotency-Key" in headers(op) for op in replayable)
    assert "Idempotency-Key" not in headers(creates[disclosure])  # decided anew each time


def test_the_login_documents_its_rate_limit(operations: list[Operation]) -> None:
    login = next(op for method, path, op in operations if (method, path) == ("post", "/api/v1/auth/token"))

    assert "429" in login["responses"]


def test_record_creation_has_request_and_response_examples(operations: list[Operation]) -> None:
    creates = [
        op for method, path, op in operations if method == "post" and path.endswith(("requests", "sightings"))
    ]

    assert len(creates) == 2
    for operation in creates:
        assert operation["requestBody"]["content"]["application/json"]["example"]
        assert operation["responses"]["201"]["content"]["application/json"]["example"]["id"]


def test_dates_and_ages_carry_their_patterns(client: FlaskClient) -> None:
    schemas = client.get("/api/openapi.json").json["components"]["schemas"]
    person = schemas["Person"]["properties"]

    assert person["birth_date"]["pattern"]
    assert person["age"]["oneOf"]
