"""An auditor reads the logs and their proofs, and no personal data through any route of the API."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from rfl.accounts.models import Role
from tests.border import REQUEST, SIGHTING, Border, queue, saved
from tests.conftest import Factories

MARK = "QXAUDIT"
PARAMETER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def marked(body: dict[str, Any], person_key: str) -> dict[str, Any]:
    person = body[person_key] | {"distinguishing_marks": f"{MARK}marks", "birth_place": f"{MARK}town"}
    return body | {person_key: person}


def test_an_auditor_finds_no_personal_data_on_any_route(
    app: Flask, client: FlaskClient, border: Border, make: Factories
) -> None:
    request = saved(
        client, "/api/v1/tracing-requests", border.de_caseworker, marked(REQUEST, "sought_person")
    )
    sighting = saved(
        client,
        "/api/v1/sightings",
        border.it_caseworker,
        marked(SIGHTING, "person") | {"whereabouts": {"current_place": f"{MARK}place"}},
    )
    [match] = queue(client, border.de_officer)
    client.post(
        f"/api/v1/matches/{match['id']}/confirm", headers=border.de_officer, json={"note": f"{MARK}note"}
    )
    client.post(
        f"/api/v1/sightings/{sighting['id']}/consents",
        headers=border.it_officer,
        json={
            "decision": "given",
            "scope": ["whereabouts"],
            "method": "oral",
            "note": f"{MARK}consent",
            "recipient_tracing_request_id": request["id"],
        },
    )
    client.post(
        f"/api/v1/matches/{match['id']}/disclosures",
        headers=border.de_officer,
        json={"fields": ["whereabouts"]},
    )
    ids = {
        "record_id": [request["id"], sighting["id"]],
        "sighting_id": [sighting["id"]],
        "match_id": [match["id"]],
        "user_id": [str(make.user(Role.CASEWORKER, society=border.italy).id)],
    }
    walked = 0
    for society in (border.germany, border.italy):
        auditor = make.actor_headers(Role.AUDITOR, society)
        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith("/api/v1"):
                continue
            for path in _paths(rule.rule, ids):
                for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                    response = client.open(
                        path, method=method, headers=auditor, json={"q": "x", "fields": ["whereabouts"]}
                    )
                    walked += 1
                    assert MARK not in response.get_data(as_text=True), f"{method} {path}"
    # the auditor's own views answered, and hold ids and proofs
    disclosures = client.get("/api/v1/disclosures", headers=make.actor_headers(Role.AUDITOR, border.germany))
    assert disclosures.json["items"][0]["audit"]
    assert walked > 40


def _paths(rule: str, ids: dict[str, list[str]]) -> list[str]:
    names = PARAMETER.findall(rule)
    if not names:
        return [rule + ("?object_id=" + ids["match_id"][0] if rule.endswith("/proof") else "")]
    paths = []
    for value in ids.get(names[0], ["00000000-0000-0000-0000-000000000000"]):
        paths.append(PARAMETER.sub(value, rule, count=1))
    return paths
