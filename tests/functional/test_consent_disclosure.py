"""Consent and disclosure over HTTP: nothing reaches a family without the found person's say."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from rfl.accounts.models import Role
from rfl.audit.models import AuditEvent
from rfl.consent import services as consent_services
from rfl.db import db
from rfl.disclosures.export import verify_export
from rfl.extensions import app_services
from rfl.matches import services as match_services
from rfl.matches.models import MatchCandidate, MatchOutcome, MatchStatus
from tests.border import REQUEST, SIGHTING, Border, patch, queue, saved
from tests.conftest import Factories, FakeClock

WHEREABOUTS = {"current_place": "Bari", "address": "Via Roma 1", "phone": "+39 080 555 0199"}


def confirmed_pair(
    client: FlaskClient, border: Border, sighting: dict[str, Any] | None = None
) -> dict[str, Any]:
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    found = saved(client, "/api/v1/sightings", border.it_caseworker, sighting or SIGHTING)
    [match] = queue(client, border.de_officer)
    confirmed = client.post(f"/api/v1/matches/{match['id']}/confirm", headers=border.de_officer, json={})
    assert confirmed.status_code == 200, confirmed.json
    return {"request": request, "sighting": found, "match": confirmed.json}


def consent(client: FlaskClient, border: Border, case: dict[str, Any], **terms: Any) -> Any:
    body = {"decision": "given", "scope": ["alive_and_well", "whereabouts"], "method": "oral"} | terms
    if "recipient" not in body:
        body["recipient_tracing_request_id"] = case["request"]["id"]
    return client.post(
        f"/api/v1/sightings/{case['sighting']['id']}/consents", headers=border.it_officer, json=body
    )


def disclose(client: FlaskClient, border: Border, case: dict[str, Any], *categories: str) -> Any:
    return client.post(
        f"/api/v1/matches/{case['match']['id']}/disclosures",
        headers=border.de_officer,
        json={"fields": list(categories)},
    )


def request_status(client: FlaskClient, border: Border, case: dict[str, Any]) -> str:
    status: str = client.get(
        f"/api/v1/tracing-requests/{case['request']['id']}", headers=border.de_caseworker
    ).json["status"]
    return status


def test_consent_allows_exactly_its_scope_then_a_withdrawal_stops_the_next_disclosure(
    client: FlaskClient, border: Border
) -> None:
    case = confirmed_pair(client, border)
    assert request_status(client, border, case) == "awaiting_consent"

    given = consent(client, border, case)
    allowed = disclose(client, border, case, "whereabouts", "alive_and_well")
    consent(client, border, case, decision="withdrawn", scope=[])
    after_withdrawal = disclose(client, border, case, "whereabouts")

    assert given.status_code == 201, given.json
    assert allowed.status_code == 201, allowed.json
    assert allowed.json["released"] == {
        "whereabouts": {"current_place": "Bari", "address": "Via Roma 1"},
        "alive_and_well": True,
    }
    assert "555 0199" not in json.dumps(allowed.json)  # contact was not asked for, nor consented to
    assert allowed.json["consent_id"] == given.json["id"]
    assert after_withdrawal.status_code == 403
    assert "released" not in after_withdrawal.json


def test_one_category_outside_the_scope_denies_all_and_releases_nothing(
    client: FlaskClient, border: Border
) -> None:
    case = confirmed_pair(client, border)
    consent(client, border, case, scope=["alive_and_well"])

    denied = disclose(client, border, case, "alive_and_well", "contact")

    assert denied.status_code == 403
    assert set(denied.json["reasons"]) == {"scope_does_not_cover_request"}
    assert "Bari" not in denied.get_data(as_text=True)
    assert request_status(client, border, case) == "awaiting_consent"


def test_expired_consent_and_consent_for_another_recipient_are_denied(
    client: FlaskClient, border: Border, clock: FakeClock, make: Factories
) -> None:
    case = confirmed_pair(client, border)
    consent(client, border, case, recipient="partners", recipient_tracing_request_id=None)
    for_partners_only = disclose(client, border, case, "whereabouts")
    consent(client, border, case, expires_at=(clock.now + timedelta(days=1)).isoformat())
    clock.advance(timedelta(days=2))
    officer = make.actor_headers(Role.TRACING_OFFICER, border.germany)  # the first tokens expired too
    expired = client.post(
        f"/api/v1/matches/{case['match']['id']}/disclosures",
        headers=officer,
        json={"fields": ["whereabouts"]},
    )

    assert for_partners_only.status_code == 403
    assert "no_consent" in for_partners_only.json["reasons"]
    assert expired.status_code == 403
    assert "consent_expired" in expired.json["reasons"]


def test_no_disclosure_before_a_confirmed_match(client: FlaskClient, border: Border) -> None:
    saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    sighting = saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    [match] = queue(client, border.de_officer)

    premature_consent = client.post(
        f"/api/v1/sightings/{sighting['id']}/consents",
        headers=border.it_officer,
        json={
            "decision": "given",
            "scope": ["whereabouts"],
            "method": "oral",
            "recipient_tracing_request_id": match["tracing_request_id"],
        },
    )
    denied = client.post(
        f"/api/v1/matches/{match['id']}/disclosures",
        headers=border.de_officer,
        json={"fields": ["whereabouts"]},
    )

    assert premature_consent.status_code == 422
    assert denied.status_code == 403
    # of a pair not confirmed the family's side learns that alone, nothing of the found person
    assert denied.json["reasons"] == ["match_not_confirmed"]


def test_a_refusal_closes_the_case_and_the_family_side_never_learns_more(
    client: FlaskClient, border: Border
) -> None:
    case = confirmed_pair(client, border)

    refused = consent(client, border, case, decision="refused", scope=[])

    assert refused.status_code == 201
    assert request_status(client, border, case) == "closed"
    # the requesting society no longer sees the pair at all, nor can it disclose
    assert queue(client, border.de_officer) == []
    assert client.get(f"/api/v1/matches/{case['match']['id']}", headers=border.de_officer).status_code == 404
    assert disclose(client, border, case, "alive_and_well").status_code == 404
    # the sighting's society keeps the internal outcome
    [own] = queue(client, border.it_officer)
    assert own["outcome"] == "located_no_contact"


def test_only_the_sightings_tracing_officers_record_consent(client: FlaskClient, border: Border) -> None:
    case = confirmed_pair(client, border)
    body = {
        "decision": "given",
        "scope": ["whereabouts"],
        "method": "oral",
        "recipient_tracing_request_id": case["request"]["id"],
    }

    by_the_family_side = client.post(
        f"/api/v1/sightings/{case['sighting']['id']}/consents", headers=border.de_officer, json=body
    )
    by_a_caseworker = client.post(
        f"/api/v1/sightings/{case['sighting']['id']}/consents", headers=border.it_caseworker, json=body
    )

    assert by_the_family_side.status_code == 404
    assert by_a_caseworker.status_code == 403


@pytest.mark.parametrize("method", ["oral", "written"])
def test_a_minors_consent_comes_from_a_guardian_and_the_match_needs_two_officers(
    client: FlaskClient, border: Border, method: str
) -> None:
    minor = SIGHTING | {"person": SIGHTING["person"] | {"birth_date": "2012"}}
    saved(
        client,
        "/api/v1/tracing-requests",
        border.de_caseworker,
        REQUEST | {"sought_person": REQUEST["sought_person"] | {"birth_date": "2012"}},
    )
    sighting = saved(client, "/api/v1/sightings", border.it_caseworker, minor)
    [match] = queue(client, border.de_officer)
    client.post(f"/api/v1/matches/{match['id']}/confirm", headers=border.de_officer, json={})
    case = {"request": {"id": match["tracing_request_id"]}, "sighting": sighting, "match": match}

    not_from_guardian = consent(client, border, case, method=method)
    from_guardian = consent(client, border, case, method="guardian", guardian_name="Aunt Layla")
    before_approval = disclose(client, border, case, "alive_and_well")
    client.post(f"/api/v1/matches/{match['id']}/approve", headers=border.it_officer)
    after_approval = disclose(client, border, case, "alive_and_well")

    assert not_from_guardian.status_code == 422
    assert not_from_guardian.json["errors"]["method"]
    assert from_guardian.status_code == 201
    assert before_approval.status_code == 403
    assert "match_not_confirmed" in before_approval.json["reasons"]
    assert after_approval.status_code == 201


def test_the_fate_of_a_deceased_person_needs_no_consent_but_two_officers(
    client: FlaskClient, border: Border
) -> None:
    deceased = SIGHTING | {"condition": "deceased"}
    case = confirmed_pair(client, border, deceased)  # pending approval after the first confirmation
    before = disclose(client, border, case, "fate")
    client.post(f"/api/v1/matches/{case['match']['id']}/approve", headers=border.it_officer)

    fate = disclose(client, border, case, "fate")
    more = disclose(client, border, case, "fate", "whereabouts")

    assert before.status_code == 403
    assert before.json["reasons"] == ["match_not_confirmed"]  # not yet that the person died (rule 4)
    assert fate.status_code == 201
    assert fate.json["released"] == {"fate": "deceased"}
    assert more.status_code == 403
    assert request_status(client, border, case) == "disclosed"


def test_every_disclosure_and_denial_is_logged_and_an_export_verifies_offline(
    app: Flask, client: FlaskClient, border: Border, make: Factories
) -> None:
    case = confirmed_pair(client, border)
    consent(client, border, case, scope=["alive_and_well"])
    allowed = disclose(client, border, case, "alive_and_well")
    denied = disclose(client, border, case, "whereabouts")
    auditor = make.actor_headers(
        __import__("rfl.accounts.models", fromlist=["Role"]).Role.AUDITOR, border.germany
    )

    log = client.get("/api/v1/disclosures", headers=auditor).json["items"]
    exported = client.get("/api/v1/audit/export?kind=disclosures", headers=auditor)
    exported_csv = client.get("/api/v1/audit/export?kind=disclosures&format=csv", headers=auditor)
    verifier = app_services(app).audit_signer.verifier()

    by_outcome = {d["outcome"]: d for d in log}  # one clock tick: the log orders them by id
    assert len(log) == 2
    assert by_outcome["allowed"]["id"] == allowed.json["id"]
    assert denied.status_code == 403
    assert by_outcome["allowed"]["consent_id"] == allowed.json["consent_id"]
    assert by_outcome["denied"]["reasons"] == ["scope_does_not_cover_request"]
    assert all(d["audit"] for d in log)
    assert verify_export(exported.get_data(as_text=True), verifier) == []
    assert verify_export(exported_csv.get_data(as_text=True), verifier) == []
    altered_row = json.loads(exported.get_data(as_text=True))
    denied_index = next(i for i, row in enumerate(altered_row["rows"]) if row["outcome"] == "denied")
    altered_row["rows"][denied_index]["outcome"] = "allowed"
    altered_entry = json.loads(exported.get_data(as_text=True))
    altered_entry["rows"][0]["audit"]["entry"]["fields"].append("whereabouts")
    altered_entry["rows"][0]["categories"].append("whereabouts")
    row_2, row_1 = altered_row["rows"][denied_index]["id"], altered_entry["rows"][0]["id"]
    assert verify_export(json.dumps(altered_row), verifier) == [
        f"row {denied_index + 1} (id {row_2}): the row differs from what the audit log recorded"
    ]
    assert verify_export(json.dumps(altered_entry), verifier) == [
        f"row 1 (id {row_1}): its audit entry is not in the log under the signed checkpoint"
    ]
    with app.app_context():
        actions = [e.action for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq))]
    assert "disclosure.allowed" in actions
    assert "disclosure.denied" in actions


def test_nothing_is_disclosed_of_a_found_person_who_was_erased(
    client: FlaskClient, border: Border, make: Factories
) -> None:
    # Given a confirmed pair the found person consented to share
    case = confirmed_pair(client, border)
    assert consent(client, border, case).status_code == 201
    # When the sighting's society erases the found person on their request
    erased = client.post(
        f"/api/v1/sightings/{case['sighting']['id']}/erasure",
        headers=make.actor_headers(Role.ADMIN, border.italy),
        json={"reason": "data_subject_request"},
    )
    assert erased.status_code == 200, erased.json
    # Then the family's officer is refused, nothing is released, and the refusal is audited
    refused = disclose(client, border, case, "alive_and_well")
    assert refused.status_code == 409
    assert "released" not in refused.json
    assert request_status(client, border, case) == "awaiting_consent"
    denied = make.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "disclosure.denied", AuditEvent.outcome == "denied")
    )
    assert denied == 1


def minor_pending_approval(client: FlaskClient, border: Border) -> dict[str, Any]:
    """A found child's pair confirmed by the family's officer, awaiting the second approval."""
    minor = SIGHTING | {"person": SIGHTING["person"] | {"flagged_minor": True}}
    return confirmed_pair(client, border, minor)


def test_approving_a_pair_whose_found_person_refused_keeps_the_familys_request_closed(
    client: FlaskClient, border: Border
) -> None:
    case = minor_pending_approval(client, border)
    assert case["match"]["status"] == "pending_approval"
    refused = consent(
        client, border, case, decision="refused", scope=[], method="guardian", guardian_name="G"
    )
    assert refused.status_code == 201, refused.json

    approved = client.post(f"/api/v1/matches/{case['match']['id']}/approve", headers=border.it_officer)

    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "confirmed"
    assert request_status(client, border, case) == "closed"  # never awaiting consent: rule 2
    assert queue(client, border.de_officer) == []


@pytest.mark.parametrize("undo", ["withdraw", "reject"])
def test_taking_back_a_pair_whose_found_person_refused_opens_the_familys_search_again(
    client: FlaskClient, border: Border, undo: str
) -> None:
    # a confirmed pair (withdrawn later) or a child's awaiting its second officer (rejected later)
    case = confirmed_pair(client, border) if undo == "withdraw" else minor_pending_approval(client, border)
    method = {"method": "guardian", "guardian_name": "G"} if undo == "reject" else {}
    other = saved(
        client,
        "/api/v1/sightings",
        border.it_caseworker,
        SIGHTING | {"registration": {"date": "2024-05-01", "country": "IT"}},
    )
    assert consent(client, border, case, decision="refused", scope=[], **method).status_code == 201
    assert queue(client, border.de_officer, status="proposed") == []  # the other ended with the search

    taken_back = client.post(
        f"/api/v1/matches/{case['match']['id']}/{undo}", headers=border.it_officer, json={"reason": "not him"}
    )
    taken_back.close()  # runs the proposals that follow

    assert taken_back.status_code == 200, taken_back.json
    assert request_status(client, border, case) == "open"
    [proposed] = queue(client, border.de_officer, status="proposed")
    assert proposed["sighting_id"] == other["id"]


def test_a_refusal_ends_the_requests_other_proposals_without_telling_why(
    client: FlaskClient, border: Border
) -> None:
    case = confirmed_pair(client, border)
    saved(
        client,
        "/api/v1/sightings",
        border.it_caseworker,
        SIGHTING | {"registration": {"date": "2024-05-01", "country": "IT"}},
    )
    [other] = [m for m in queue(client, border.de_officer) if m["status"] == "proposed"]

    consent(client, border, case, decision="refused", scope=[])
    confirmed = client.post(f"/api/v1/matches/{other['id']}/confirm", headers=border.de_officer, json={})

    assert confirmed.status_code == 409
    assert confirmed.json["current"]["status"] == "superseded"
    assert "confirmed sighting" not in json.dumps(confirmed.json)


@pytest.mark.parametrize("decision", ["withdrawn", "refused"])
def test_a_consent_withdrawn_after_its_pair_was_withdrawn_holds_when_the_pair_is_confirmed_again(
    client: FlaskClient, border: Border, decision: str
) -> None:
    case = confirmed_pair(client, border)
    assert consent(client, border, case, scope=["alive_and_well", "contact"]).status_code == 201
    withdrawn = client.post(
        f"/api/v1/matches/{case['match']['id']}/withdraw", headers=border.it_officer, json={"reason": "doubt"}
    )
    assert withdrawn.status_code == 200

    said_no = consent(client, border, case, decision=decision, scope=[])
    sighting_path = f"/api/v1/sightings/{case['sighting']['id']}"
    patch(client, sighting_path, border.it_caseworker, {"person": {"mother_name": "Fatima"}})  # compared
    [again] = queue(client, border.de_officer, status="proposed")
    confirmed = client.post(f"/api/v1/matches/{again['id']}/confirm", headers=border.de_officer, json={})
    status_then = request_status(client, border, case)
    disclosed = disclose(client, border, case | {"match": again}, "alive_and_well", "contact")

    assert said_no.status_code == 201, said_no.json
    assert confirmed.status_code == 200
    assert status_then == "awaiting_consent"  # as for any confirmation: consent is being sought
    # the first disclosure finds the person's no: to the family's side, only a closed search (rule 2)
    assert disclosed.status_code == 404
    assert request_status(client, border, case) == "closed"
    assert queue(client, border.de_officer, status="confirmed") == []
    assert "released" not in disclosed.json
    assert "555 0199" not in json.dumps(disclosed.json)


def test_a_refusal_for_a_request_never_paired_with_the_sighting_is_refused(
    client: FlaskClient, border: Border
) -> None:
    case = confirmed_pair(client, border)
    someone_else = {"given_name": "Zainab", "family_name": "Qureshi", "sex": "F", "birth_date": "1971"}
    unrelated = saved(
        client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST | {"sought_person": someone_else}
    )

    refused = consent(client, border, case | {"request": unrelated}, decision="refused", scope=[])

    assert refused.status_code == 422
    assert refused.json["errors"]["recipient_tracing_request_id"]


def test_a_person_found_dead_after_the_confirmation_needs_a_second_officer_before_the_fate_is_told(
    app: Flask, client: FlaskClient, border: Border
) -> None:
    case = confirmed_pair(client, border)  # an adult alive when confirmed: one officer sufficed
    approve_path = f"/api/v1/matches/{case['match']['id']}/approve"
    needs_none = client.post(approve_path, headers=border.it_officer)
    patch(
        client, f"/api/v1/sightings/{case['sighting']['id']}", border.it_caseworker, {"condition": "deceased"}
    )

    before = disclose(client, border, case, "fate")
    by_the_confirming_officer = client.post(approve_path, headers=border.de_officer)
    approved = client.post(approve_path, headers=border.it_officer)
    again = client.post(approve_path, headers=border.it_second_officer)
    fate = disclose(client, border, case, "fate")

    assert needs_none.status_code == 409
    assert before.status_code == 403
    assert "second_approval_missing" in before.json["reasons"]
    assert by_the_confirming_officer.status_code == 403
    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "confirmed"
    assert again.status_code == 409
    assert fate.status_code == 201, fate.json
    assert fate.json["released"] == {"fate": "deceased"}


def test_the_logs_filter_by_society_and_refuse_a_filter_they_do_not_know(
    client: FlaskClient, border: Border, make: Factories
) -> None:
    case = confirmed_pair(client, border)
    consent(client, border, case, scope=["alive_and_well"])
    disclose(client, border, case, "alive_and_well")
    german_auditor = make.actor_headers(Role.AUDITOR, border.germany)
    italian_auditor = make.actor_headers(Role.AUDITOR, border.italy)

    def listed(path: str, headers: dict[str, str]) -> int:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.json
        return len(response.json["items"])

    assert listed("/api/v1/disclosures?society=it", german_auditor) == 1  # the pair's other side
    assert listed("/api/v1/disclosures?society=SE", german_auditor) == 0
    assert listed("/api/v1/consents?society=IT", italian_auditor) == 1
    assert listed("/api/v1/consents?society=DE", italian_auditor) == 0
    mistyped = client.get("/api/v1/disclosures?outcom=denied", headers=german_auditor)
    assert mistyped.status_code == 422
    assert mistyped.json["errors"]["outcom"] == ["Unknown field."]


def test_a_request_opened_again_after_a_refusal_goes_on_searching_without_learning_of_it(
    client: FlaskClient, border: Border
) -> None:
    case = confirmed_pair(client, border)
    other_day = SIGHTING | {"registration": {"date": "2024-05-01", "country": "IT"}}
    saved(client, "/api/v1/sightings", border.it_caseworker, other_day)
    assert consent(client, border, case, decision="refused", scope=[]).status_code == 201

    patch(
        client, f"/api/v1/tracing-requests/{case['request']['id']}", border.de_caseworker, {"status": "open"}
    )
    [again] = queue(client, border.de_officer, status="proposed")
    confirmed = client.post(f"/api/v1/matches/{again['id']}/confirm", headers=border.de_officer, json={})

    assert confirmed.status_code == 200, confirmed.json  # the refused pair no longer holds the request
    assert request_status(client, border, case) == "awaiting_consent"
    [refused] = [m for m in queue(client, border.it_officer) if m["id"] == case["match"]["id"]]
    assert refused["status"] == "withdrawn"
    assert refused["outcome"] == "located_no_contact"  # the sighting's society keeps the outcome


def test_consent_given_while_restrictions_hide_the_pair_leaves_the_familys_request_closed(
    client: FlaskClient, border: Border
) -> None:
    case = confirmed_pair(client, border)
    assert consent(client, border, case, decision="refused", scope=[]).status_code == 201
    sighting_path = f"/api/v1/sightings/{case['sighting']['id']}"
    patch(client, sighting_path, border.it_caseworker, {"restrictions": {"exclude": ["DE"]}})

    given = consent(client, border, case, scope=["alive_and_well"])

    assert given.status_code == 201
    assert request_status(client, border, case) == "closed"


def test_a_pair_hidden_from_the_familys_society_leaves_no_trace_in_its_audit_log(
    client: FlaskClient, border: Border, make: Factories
) -> None:
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    kept = SIGHTING | {"restrictions": {"no_cross_border": True, "exclude": []}}
    saved(client, "/api/v1/sightings", border.it_caseworker, kept)
    [pair] = queue(client, border.it_officer)
    assert client.get(f"/api/v1/matches/{pair['id']}", headers=border.it_officer).status_code == 200
    client.post(f"/api/v1/matches/{pair['id']}/reject", headers=border.it_officer, json={"reason": "no"})

    def seen_by(society: Any) -> list[tuple[str, str]]:
        auditor = make.actor_headers(Role.AUDITOR, society)
        events = client.get("/api/v1/audit/events?limit=200", headers=auditor).json["items"]
        return [(e["action"], e["object_id"]) for e in events if e["action"].startswith("match_candidate")]

    for_germany, for_italy = seen_by(border.germany), seen_by(border.italy)
    assert not [e for e in for_germany if e[1] in (request["id"], pair["id"])]
    assert ("match_candidate.read", request["id"]) in for_italy  # audited all the same, as Italy's
    assert ("match_candidate.reject", pair["id"]) in for_italy


def test_a_refusal_whose_pair_was_withdrawn_meanwhile_is_still_recorded(
    app: Flask, client: FlaskClient, border: Border, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = confirmed_pair(client, border)
    match_id = uuid.UUID(case["match"]["id"])
    locked = consent_services.locked_tracing_request

    def withdrawn_while_waiting(session: Session, request_id: uuid.UUID) -> Any:
        # another officer's withdrawal, committed while this consent waited for the request's lock
        session.execute(
            sa.update(MatchCandidate)
            .where(MatchCandidate.id == match_id)
            .values(status=MatchStatus.WITHDRAWN)
        )
        return locked(session, request_id)

    monkeypatch.setattr(consent_services, "locked_tracing_request", withdrawn_while_waiting)
    refused = consent(client, border, case, decision="refused", scope=[])

    assert refused.status_code == 201, refused.json
    monkeypatch.undo()
    # it holds when the pair is proposed and confirmed again
    sighting_path = f"/api/v1/sightings/{case['sighting']['id']}"
    patch(client, sighting_path, border.it_caseworker, {"person": {"mother_name": "Fatima"}})
    [again] = queue(client, border.de_officer, status="proposed")
    client.post(f"/api/v1/matches/{again['id']}/confirm", headers=border.de_officer, json={})
    assert disclose(client, border, case | {"match": again}, "alive_and_well").status_code == 404
    assert request_status(client, border, case) == "closed"


def test_a_family_side_decision_that_waited_on_a_refusal_finds_the_pair_gone(
    client: FlaskClient, border: Border, make: Factories, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = minor_pending_approval(client, border)  # confirmed by a German officer, approved by another
    match_id = uuid.UUID(case["match"]["id"])
    locked = match_services.locked_tracing_request

    def refused_while_waiting(session: Session, request_id: uuid.UUID) -> Any:
        # the found person's refusal, committed while this decision waited for the request's lock
        refusal = sa.update(MatchCandidate).values(outcome=MatchOutcome.LOCATED_NO_CONTACT)
        session.execute(refusal.where(MatchCandidate.id == match_id))
        return locked(session, request_id)

    monkeypatch.setattr(match_services, "locked_tracing_request", refused_while_waiting)
    second = make.actor_headers(Role.TRACING_OFFICER, border.germany)
    approved = client.post(f"/api/v1/matches/{match_id}/approve", headers=second)

    assert approved.status_code == 404
    assert "confirmed" not in json.dumps(approved.json)


def test_a_refusal_of_a_pair_never_confirmed_changes_nothing_the_family_side_sees(
    client: FlaskClient, border: Border
) -> None:
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    sighting = saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    [pair] = queue(client, border.de_officer)
    case = {"request": request, "sighting": sighting, "match": pair}

    refused = consent(client, border, case, decision="refused", scope=[])

    assert refused.status_code == 201, refused.json
    assert client.get(f"/api/v1/matches/{pair['id']}", headers=border.de_officer).status_code == 200
    assert [m["id"] for m in queue(client, border.de_officer)] == [pair["id"]]
    assert request_status(client, border, case) == "open"


def test_a_refused_pairs_review_leaves_no_trace_in_the_familys_audit_log(
    client: FlaskClient, border: Border, make: Factories
) -> None:
    case = confirmed_pair(client, border)
    consent(client, border, case, decision="refused", scope=[])
    pair_id = case["match"]["id"]

    assert client.get(f"/api/v1/matches/{pair_id}", headers=border.it_officer).status_code == 200
    withdrawn = client.post(
        f"/api/v1/matches/{pair_id}/withdraw", headers=border.it_officer, json={"reason": "x"}
    )
    assert withdrawn.status_code == 200

    auditor = make.actor_headers(Role.AUDITOR, border.germany)
    events = client.get("/api/v1/audit/events?limit=200", headers=auditor).json["items"]
    after_refusal = [e for e in events if e["action"] in ("match_candidate.read", "match_candidate.withdraw")]
    assert after_refusal == []


@pytest.mark.parametrize("pair_is", ["proposed", "withdrawn"])
def test_a_disclosure_asked_of_a_pair_not_confirmed_says_only_that_whatever_the_person_said(
    client: FlaskClient, border: Border, pair_is: str
) -> None:
    case = confirmed_pair(client, border) if pair_is == "withdrawn" else None
    if case is not None:
        path = f"/api/v1/matches/{case['match']['id']}/withdraw"
        assert client.post(path, headers=border.it_officer, json={"reason": "x"}).status_code == 200
    else:
        request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
        sighting = saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
        [pair] = queue(client, border.de_officer)
        case = {"request": request, "sighting": sighting, "match": pair}
    other_day = SIGHTING | {"registration": {"date": "2024-05-01", "country": "IT"}}
    saved(client, "/api/v1/sightings", border.it_caseworker, other_day)  # the search goes on with it
    assert consent(client, border, case, decision="refused", scope=[]).status_code == 201
    status_before = request_status(client, border, case)

    asked = disclose(client, border, case, "alive_and_well")

    assert asked.status_code == 403
    assert asked.json["reasons"] == ["match_not_confirmed"]  # as without the refusal: rule 2
    assert request_status(client, border, case) == status_before == "open"
    assert len(queue(client, border.de_officer, status="proposed")) >= 1


def test_a_retried_consent_recording_returns_the_first_record(client: FlaskClient, border: Border) -> None:
    case = confirmed_pair(client, border)
    body = {
        "decision": "given",
        "scope": ["alive_and_well"],
        "method": "oral",
        "note": "asked at the reception centre",
        "recipient_tracing_request_id": case["request"]["id"],
    }
    path = f"/api/v1/sightings/{case['sighting']['id']}/consents"
    headers = border.it_officer | {"Idempotency-Key": "poor-connection-1"}

    first = client.post(path, headers=headers, json=body)
    again = client.post(path, headers=headers, json=body)
    other_body = client.post(path, headers=headers, json=body | {"scope": ["whereabouts"]})

    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Location"] == first.headers["Location"]
    assert other_body.status_code == 422  # the key was used for another recording
    assert len(client.get(path, headers=border.it_officer).json["items"]) == 1
