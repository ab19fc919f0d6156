"""The match workflow over HTTP, as officers on both sides of a border would work a case."""

from __future__ import annotations

from typing import Any

import pytest
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


@pytest.fixture
def border(make: Factories) -> Border:
    return Border(make)


@pytest.mark.parametrize("request_first", [True, False])
def test_a_true_cross_border_pair_is_proposed_whichever_record_comes_first(
    client: FlaskClient, border: Border, request_first: bool
) -> None:
    if request_first:
        request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
        sighting = saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    else:
        sighting = saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
        request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)

    german_queue = client.get("/api/v1/matches", headers=border.de_officer).json["items"]
    italian_queue = client.get("/api/v1/matches", headers=border.it_officer).json["items"]

    assert [(m["tracing_request_id"], m["sighting_id"]) for m in german_queue] == [
        (request["id"], sighting["id"])
    ]
    assert german_queue == italian_queue
    assert german_queue[0]["status"] == "proposed"
    assert german_queue[0]["match_probability"] >= 0.5
    assert (german_queue[0]["request_society"], german_queue[0]["sighting_society"]) == ("DE", "IT")


def test_an_officer_reviews_the_explained_pair_and_confirms_it(client: FlaskClient, border: Border) -> None:
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    [match] = client.get("/api/v1/matches", headers=border.de_officer).json["items"]

    detail = client.get(f"/api/v1/matches/{match['id']}", headers=border.de_officer)
    confirmed = client.post(
        f"/api/v1/matches/{match['id']}/confirm", headers=border.de_officer, json={"note": "same father"}
    )

    assert detail.status_code == 200
    body = detail.get_data(as_text=True)
    assert detail.json["comparison"]["sighting"]["given_name"] == "Muhammad"
    assert detail.json["comparison"]["tracing_request"]["father_name"] == "Yusuf"
    # Whereabouts, contacts and identifier values of the found person never reach the other society.
    for secret in ("Bari", "Via Roma", "555 0199", "555 0100"):
        assert secret not in body
    assert {entry["field"] for entry in detail.json["explanation"]} >= {"given_name", "birth_date"}
    given = next(e for e in detail.json["evidence"] if e["field"] == "given_name")
    assert given["alignment"]
    assert confirmed.status_code == 200
    assert confirmed.json["status"] == "confirmed"
    assert client.get(f"/api/v1/tracing-requests/{request['id']}", headers=border.de_caseworker).json[
        "status"
    ] == ("awaiting_consent")
