"""If-Match on PATCH: the ETag of the version read is required; ``*`` is not an ETag (428)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from rfl.accounts.models import Role
from tests.conftest import Factories
from tests.rfl.http.test_errors import assert_problem
from tests.rfl.records.conftest import TRACING_REQUEST

MERGE_PATCH = "application/merge-patch+json"


@pytest.mark.parametrize("if_match", ["*", " * ", '"0123", *'])
def test_if_match_any_is_refused_on_records_and_changes_nothing(
    client: FlaskClient, make: Factories, if_match: str
) -> None:
    headers = make.actor_headers(Role.CASEWORKER)
    created = client.post("/api/v1/tracing-requests", json=TRACING_REQUEST, headers=headers)
    url = f"/api/v1/tracing-requests/{created.json['id']}"

    response = client.patch(
        url,
        json={"message": "overwritten"},
        headers=headers | {"Content-Type": MERGE_PATCH, "If-Match": if_match},
    )

    assert_problem(response, 428)
    assert "If-Match: *" in response.json["detail"]
    current = client.get(url, headers=headers)
    assert current.json["message"] == TRACING_REQUEST["message"]
    assert current.headers["ETag"] == created.headers["ETag"]


def test_if_match_any_is_refused_on_users(client: FlaskClient, make: Factories) -> None:
    society = make.society()
    headers = make.actor_headers(Role.ADMIN, society)
    user = make.user(society=society)
    url = f"/api/v1/users/{user.id}"

    response = client.patch(
        url, data='{"role": "auditor"}', headers=headers | {"Content-Type": MERGE_PATCH, "If-Match": "*"}
    )

    assert_problem(response, 428)
    assert client.get(url, headers=headers).json["role"] == "caseworker"
