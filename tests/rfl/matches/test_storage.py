"""No personal data in candidates, explanations, the outbox, the stored model, consent records and
disclosures, or their log and audit entries."""

from __future__ import annotations

import io
import json
from pathlib import Path

from matching import Matcher
from rfl import create_app, migrate
from rfl.accounts.models import Role
from rfl.db import db
from rfl.extensions import app_services
from rfl.logs import configure_logging
from rfl.matches.store import save_and_activate
from tests.conftest import Factories, FakeClock, make_settings
from tests.rfl.records.test_storage import MARK, database_dump, marked_tracing_request


def marked_sighting_of_the_sought_person() -> dict[str, object]:
    return {
        "person": {
            "given_name": f"{MARK}given",
            "family_name": f"{MARK}family",
            "father_name": f"{MARK}father",
            "birth_date": "1987-03-14",
            "sex": "F",
            "nationality": "ER",
            "phone": f"{MARK}phone",
        },
        "registration": {"date": "2024-01-31", "place": f"{MARK}regplace", "country": "IT"},
        "condition": "alive",
        "whereabouts": {"current_place": f"{MARK}current"},
        "legal_basis": "vital_interest",
    }


def test_no_personal_data_in_candidates_outbox_model_log_or_audit(
    throwaway_database_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    migrate.upgrade(throwaway_database_url)
    app = create_app(make_settings(throwaway_database_url, tmp_path), clock=clock)
    log = io.StringIO()
    configure_logging("DEBUG", stream=log)
    make = Factories(app, clock)
    client = app.test_client()
    germany, italy = make.society("DE", country="DE"), make.society("IT")
    officer = make.actor_headers(Role.TRACING_OFFICER, germany)

    # Given a marked request and a marked registration of the same person, proposed after each save
    client.post(
        "/api/v1/tracing-requests",
        headers=make.actor_headers(Role.CASEWORKER, germany),
        json=marked_tracing_request(),
    ).close()
    client.post(
        "/api/v1/sightings",
        headers=make.actor_headers(Role.CASEWORKER, italy),
        json=marked_sighting_of_the_sought_person(),
    ).close()
    # and one more registration left waiting in the outbox (its response is never closed)
    client.post(
        "/api/v1/sightings",
        headers=make.actor_headers(Role.CASEWORKER, italy),
        json=marked_sighting_of_the_sought_person(),
    )
    [match] = client.get("/api/v1/matches", headers=officer).json["items"]
    detail = client.get(f"/api/v1/matches/{match['id']}", headers=officer)
    confirmed = client.post(
        f"/api/v1/matches/{match['id']}/confirm", headers=officer, json={"note": f"{MARK}note"}
    )
    # and the found person's consent, with a guardian, a note and a message, and a disclosure under it
    consent = client.post(
        f"/api/v1/sightings/{match['sighting_id']}/consents",
        headers=make.actor_headers(Role.TRACING_OFFICER, italy),
        json={
            "decision": "given",
            "scope": ["whereabouts", "message"],
            "method": "guardian",
            "guardian_name": f"{MARK}guardian",
            "note": f"{MARK}consentnote",
            "message": f"{MARK}message for the family",
            "recipient_tracing_request_id": match["tracing_request_id"],
        },
    )
    disclosed = client.post(
        f"/api/v1/matches/{match['id']}/disclosures",
        headers=officer,
        json={"fields": ["whereabouts", "message"]},
    )
    # and a model fitted on marked names, stored
    people = [
        {
            "id": str(n),
            "given_name": f"{MARK}given{n % 7}",
            "family_name": f"{MARK}family{n % 5}",
            "birth_date": str(1960 + n % 40),
        }
        for n in range(120)
    ]
    with app.app_context(), db.transaction() as session:
        fitted = Matcher.fit(people[:60], people[60:])
        save_and_activate(
            session, app_services(app).crypto(session), fitted, requests=60, sightings=60, labels=0
        )
    audit_dump = json.dumps(
        client.get("/api/v1/audit/events?limit=200", headers=make.actor_headers(Role.AUDITOR, germany)).json
    )
    db.engine_of(app).dispose()

    assert detail.json["comparison"]["sighting"]["given_name"] == f"{MARK}given"  # the officer sees it
    assert confirmed.status_code == 200
    assert consent.status_code == 201, consent.json
    assert disclosed.json["released"]["message"] == f"{MARK}message for the family"  # the family receives it
    dump = database_dump(throwaway_database_url)
    assert "match_block" in dump
    assert "outbox_messages" in dump.lower()
    for place, text in {"database": dump, "log": log.getvalue(), "audit": audit_dump}.items():
        assert MARK not in text, place
        assert MARK.lower() not in text, place
