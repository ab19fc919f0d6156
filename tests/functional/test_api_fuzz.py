"""Property-based fuzzing of the whole API from its own OpenAPI description (schemathesis).

Every operation is called with generated inputs, as a user of a role that may call it; no answer may be
a 5xx, and every answer must match the schema the API documents for it.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from rfl.accounts.models import Role
from tests.conftest import Factories

MAX_EXAMPLES_PER_OPERATION = 15


def role_for(path: str) -> Role:
    if path.startswith("/api/v1/users"):
        return Role.ADMIN
    if path.startswith(("/api/v1/audit", "/api/v1/reports")):
        return Role.AUDITOR
    return Role.TRACING_OFFICER


def test_no_server_errors_and_every_answer_matches_its_schema(app: Flask, make: Factories) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    society = make.society()
    users = {role: make.user(role, society=society) for role in Role}

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            # A fresh token per call: the fuzzer also calls DELETE /auth/token, which revokes it.
            case.call_and_validate(
                headers=make.auth(users[role_for(case.path)]),
                checks=[not_a_server_error, response_schema_conformance],
            )

        call()
