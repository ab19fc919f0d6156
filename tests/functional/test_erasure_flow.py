"""A person asks to be forgotten, over HTTP only: a legal hold first stands in the way, then the admin
erases the sought person; the family's enquirer stays, the match is withdrawn, the log verifies."""

from __future__ import annotations

from flask.testing import FlaskClient

from rfl.accounts.models import Role
from tests.border import REQUEST, SIGHTING, Border, queue, saved
from tests.conftest import Factories


def test_the_right_to_erasure_across_a_border(client: FlaskClient, border: Border, make: Factories) -> None:
    de_admin = make.actor_headers(Role.ADMIN, border.germany)
    de_auditor = make.actor_headers(Role.AUDITOR, border.germany)
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    (proposed,) = queue(client, border.de_officer, status="proposed")
    erasure = f"/api/v1/tracing-requests/{request['id']}/erasure"
    body = {"person": "sought_person", "reason": "data_subject_request"}

    # Given a legal hold a tracing officer set on the request, the erasure is refused
    hold = f"/api/v1/tracing-requests/{request['id']}/legal-hold"
    assert client.put(hold, headers=border.de_officer, json={"reason": "investigation"}).status_code == 200
    refused = client.post(erasure, headers=de_admin, json=body)
    assert refused.status_code == 409
    assert refused.headers["Content-Type"] == "application/problem+json"

    # When the hold is lifted and the admin erases the sought person
    assert client.delete(hold, headers=border.de_officer).status_code == 200
    erased = client.post(erasure, headers=de_admin, json=body)

    # Then the record keeps its skeleton, the enquirer stays, the candidate is withdrawn for both sides
    assert erased.status_code == 200
    assert set(erased.json) >= {"id", "status", "society", "created_at", "closed_at", "minor", "erased"}
    assert "sought_person" not in erased.json
    read = client.get(f"/api/v1/tracing-requests/{request['id']}", headers=border.de_caseworker).json
    assert read["enquirer"]["full_name"] == REQUEST["enquirer"]["full_name"]
    assert not read["sought_person"].get("given_name")
    for officer in (border.de_officer, border.it_officer):
        (withdrawn,) = queue(client, officer, status="withdrawn")
        assert withdrawn["id"] == proposed["id"]
        detail = client.get(f"/api/v1/matches/{proposed['id']}", headers=officer)
        assert detail.status_code == 200
        assert detail.json["explanation"] == []
    # And a name search no longer finds the erased request
    found = client.post(
        "/api/v1/tracing-requests/search", headers=border.de_caseworker, json={"q": "Mohammed Al-Hassan"}
    )
    assert found.json["items"] == []
    assert client.get("/api/v1/audit/verify", headers=de_auditor).json["ok"] is True
