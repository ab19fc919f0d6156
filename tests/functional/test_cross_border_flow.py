"""A cross-border case from both sides, over HTTP only, as the users in domain.md would work it.

A German caseworker files a family's request; an Italian caseworker registers a man at a landing site
under another spelling; a German tracing officer, searching for the family's request, finds the
sighting without seeing who it is; the Italian society's auditor sees that search in its own log, and
the whole log verifies.
"""

from __future__ import annotations

from flask.testing import FlaskClient

from rfl.accounts.models import Role
from tests.conftest import Factories


def test_a_family_request_meets_a_registration_across_borders(client: FlaskClient, make: Factories) -> None:
    germany, italy = make.society("DE", country="DE"), make.society("IT")
    de_caseworker = make.actor_headers(Role.CASEWORKER, germany)
    de_officer = make.actor_headers(Role.TRACING_OFFICER, germany)
    it_caseworker = make.actor_headers(Role.CASEWORKER, italy)
    it_auditor = make.actor_headers(Role.AUDITOR, italy)

    # Given a family's request in Germany and a registration in Italy under another spelling
    request = client.post(
        "/api/v1/tracing-requests",
        headers=de_caseworker,
        json={
            "sought_person": {
                "given_name": "Abdulrahman",
                "family_name": "Haddad",
                "birth_date": "1996",
                "sex": "M",
            },
            "enquirer": {"full_name": "Mariam Haddad", "relationship": "mother"},
            "legal_basis": "vital_interest",
        },
    )
    sighting = client.post(
        "/api/v1/sightings",
        headers=it_caseworker,
        json={
            "person": {"full_name": "Abd al-Rahman Hadad", "age": "25-30", "sex": "M"},
            "registration": {"date": "2025-06-02", "place": "Lampedusa", "country": "IT"},
            "condition": "alive",
            "whereabouts": {"current_place": "Hotspot Lampedusa"},
            "legal_basis": "vital_interest",
        },
    )
    assert request.status_code == sighting.status_code == 201

    # When the German tracing officer searches for the sought person, on behalf of the family's request
    found = client.post(
        "/api/v1/sightings/search",
        headers=de_officer,
        json={"q": "Abdulrahman Haddad", "tracing_request_id": request.json["id"]},
    )

    # Then the Italian sighting is found, without its identity or a score, and its details stay Italy's
    (hit,) = found.json["items"]
    assert hit == {"id": sighting.json["id"], "society": "IT", "band": "strong"}
    assert client.get(f"/api/v1/sightings/{hit['id']}", headers=de_officer).status_code == 404
    # And Italy's auditor sees who searched its record, and the log verifies
    events = client.get(f"/api/v1/audit/events?object_id={hit['id']}", headers=it_auditor).json["items"]
    assert [event["action"] for event in events] == [
        "sighting.create",
        "sighting.search",
        "sighting.read",
    ]
    assert events[2]["outcome"] == "denied"
    assert client.get("/api/v1/audit/verify", headers=it_auditor).json["ok"] is True
