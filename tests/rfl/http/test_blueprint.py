"""Query strings are checked as strictly as bodies: an unknown parameter is a 422, never ignored."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from rfl.accounts.models import Role
from tests.conftest import Factories


@pytest.mark.parametrize(
    ("role", "path"),
    [
        (Role.CASEWORKER, "/api/v1/tracing-requests?stauts=closed"),
        (Role.TRACING_OFFICER, "/api/v1/matches?min_probabilty=0.9"),
        (Role.AUDITOR, "/api/v1/consents?decison=refused"),
        (Role.ADMIN, "/api/v1/users?limit=5&rol=auditor"),
    ],
)
def test_a_mistyped_filter_is_refused_not_ignored(
    client: FlaskClient, make: Factories, role: Role, path: str
) -> None:
    headers = make.actor_headers(role, make.society("DE", country="DE"))

    response = client.get(path, headers=headers)

    assert response.status_code == 422
    [unknown] = response.json["errors"]
    assert unknown in path
    assert client.get(path.split("?", maxsplit=1)[0], headers=headers).status_code == 200
