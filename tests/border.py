"""Two societies across a border, their users, and one person recorded on both sides."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from rfl.accounts.models import Role, Society
from tests.conftest import Factories

REQUEST: dict[str, Any] = {
    "sought_person": {
        "given_name": "Mohammed",
        "family_name": "Al-Hassan",
        "sex": "M",
        "birth_date": "1990",
        "nationality": "SY",
        "father_name": "Yusuf",
        "phone": "+963 11 555 0100",
    },
    "enquirer": {"full_name": "Amina Al-Hassan", "relationship": "sister", "phone": "+49 30 555 0100"},
    "separation": {"date": "2023-09", "place": "Lampedusa"},
    "legal_basis": "vital_interest",
}
SIGHTING: dict[str, Any] = {
    "person": {
        "given_name": "Muhammad",
        "family_name": "Alhassan",
        "alternate_names": ["محمد الحسن"],
        "sex": "M",
        "birth_date": "1990",
        "nationality": "SY",
        "father_name": "Youssef",
    },
    "registration": {"date": "2024-03-02", "place": "Reception centre, Bari", "country": "IT"},
    "condition": "alive",
    "whereabouts": {"current_place": "Bari", "address": "Via Roma 1", "phone": "+39 080 555 0199"},
    "legal_basis": "vital_interest",
}


def saved(client: FlaskClient, path: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """Save a record; closing the response runs what follows it in this process (the proposals)."""
    response = client.post(path, headers=headers, json=body)
    assert response.status_code == 201, response.json
    response.close()
    created: dict[str, Any] = response.json
    return created


class Border:
    def __init__(self, make: Factories) -> None:
        self.germany: Society = make.society("DE", country="DE")
        self.italy: Society = make.society("IT", country="IT")
        self.de_caseworker = make.actor_headers(Role.CASEWORKER, self.germany)
        self.de_officer = make.actor_headers(Role.TRACING_OFFICER, self.germany)
        self.it_caseworker = make.actor_headers(Role.CASEWORKER, self.italy)
        self.it_officer = make.actor_headers(Role.TRACING_OFFICER, self.italy)
        self.it_second_officer = make.actor_headers(Role.TRACING_OFFICER, self.italy)


def queue(client: FlaskClient, headers: dict[str, str], **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{name}={value}" for name, value in filters.items())
    response = client.get(f"/api/v1/matches?{query}", headers=headers)
    assert response.status_code == 200, response.json
    items: list[dict[str, Any]] = response.json["items"]
    return items


def patch(client: FlaskClient, path: str, headers: dict[str, str], changes: dict[str, Any]) -> None:
    """Edit a record (a merge patch on its current version); closing the response runs what follows."""
    etag = client.get(path, headers=headers).headers["ETag"]
    response = client.patch(
        path,
        headers=headers | {"If-Match": etag, "Content-Type": "application/merge-patch+json"},
        json=changes,
    )
    assert response.status_code == 200, response.json
    response.close()
