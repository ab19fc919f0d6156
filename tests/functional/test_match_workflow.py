"""The match workflow over HTTP, as officers on both sides of a border would work a case."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from rfl.accounts.models import Role
from rfl.audit.models import AuditEvent
from rfl.db import db
from rfl.matches.models import MatchCandidate
from rfl.records.models import RecordStatus, Sighting, TracingRequest
from tests.border import REQUEST, SIGHTING, Border, patch, queue, saved
from tests.conftest import Factories


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


def test_a_rejected_pair_stays_rejected_until_a_matched_field_changes(
    client: FlaskClient, border: Border
) -> None:
    saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    sighting = saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    [match] = queue(client, border.it_officer)
    rejected = client.post(
        f"/api/v1/matches/{match['id']}/reject", headers=border.it_officer, json={"reason": "other man"}
    )
    path = f"/api/v1/sightings/{sighting['id']}"

    patch(client, path, border.it_caseworker, {"whereabouts": {"current_place": "Foggia"}})  # not compared
    after_unrelated = queue(client, border.it_officer, status="proposed")
    patch(client, path, border.it_caseworker, {"person": {"mother_name": "Fatima"}})  # compared
    after_relevant = queue(client, border.it_officer, status="proposed")

    assert rejected.json["status"] == "rejected"
    assert after_unrelated == []
    assert [(m["tracing_request_id"], m["sighting_id"]) for m in after_relevant] == [
        (match["tracing_request_id"], match["sighting_id"])
    ]
    assert after_relevant[0]["id"] != match["id"]
    assert [m["status"] for m in queue(client, border.it_officer, status="rejected")] == ["rejected"]


def test_a_proposal_is_superseded_when_a_record_changes_in_a_matched_field(
    client: FlaskClient, border: Border
) -> None:
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    [before] = queue(client, border.de_officer)

    patch(
        client,
        f"/api/v1/tracing-requests/{request['id']}",
        border.de_caseworker,
        {"sought_person": {"mother_name": "Fatima"}},
    )

    [superseded] = queue(client, border.de_officer, status="superseded")
    [now] = queue(client, border.de_officer, status="proposed")
    assert superseded["id"] == before["id"]
    assert now["id"] != before["id"]


@pytest.mark.parametrize(
    "flag", [{"person": SIGHTING["person"] | {"flagged_minor": True}}, {"condition": "deceased"}]
)
def test_a_minor_or_a_deceased_persons_match_needs_a_second_different_officer(
    app: Flask, client: FlaskClient, border: Border, flag: dict[str, Any]
) -> None:
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING | flag)
    [match] = queue(client, border.it_officer)

    first = client.post(f"/api/v1/matches/{match['id']}/confirm", headers=border.it_officer, json={})
    same_again = client.post(f"/api/v1/matches/{match['id']}/approve", headers=border.it_officer)
    status_between = client.get(
        f"/api/v1/tracing-requests/{request['id']}", headers=border.de_caseworker
    ).json["status"]
    second = client.post(f"/api/v1/matches/{match['id']}/approve", headers=border.de_officer)

    assert first.json["status"] == "pending_approval"
    assert same_again.status_code == 403
    assert status_between == "open"
    assert second.status_code == 200
    assert second.json["status"] == "confirmed"
    assert client.get(f"/api/v1/tracing-requests/{request['id']}", headers=border.de_caseworker).json[
        "status"
    ] == ("awaiting_consent")
    assert ("match_candidate.approve", "denied") in audit_actions(app, match["id"])


def test_a_request_has_one_confirmed_sighting_until_it_is_withdrawn(
    client: FlaskClient, border: Border
) -> None:
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    saved(
        client,
        "/api/v1/sightings",
        border.it_caseworker,
        SIGHTING | {"registration": {"date": "2024-05-01", "country": "IT"}},
    )
    first, second = queue(client, border.de_officer)

    confirmed = client.post(f"/api/v1/matches/{first['id']}/confirm", headers=border.de_officer, json={})
    refused = client.post(f"/api/v1/matches/{second['id']}/confirm", headers=border.de_officer, json={})
    decided_again = client.post(
        f"/api/v1/matches/{first['id']}/reject", headers=border.it_officer, json={"reason": "x"}
    )
    withdrawn = client.post(
        f"/api/v1/matches/{first['id']}/withdraw", headers=border.it_officer, json={"reason": "doubt"}
    )
    reopened = client.get(f"/api/v1/tracing-requests/{request['id']}", headers=border.de_caseworker).json[
        "status"
    ]
    then = client.post(f"/api/v1/matches/{second['id']}/confirm", headers=border.de_officer, json={})

    assert confirmed.json["status"] == "confirmed"
    assert refused.status_code == 409
    assert decided_again.status_code == 409
    assert decided_again.json["current"]["status"] == "confirmed"
    assert withdrawn.json["status"] == "withdrawn"
    assert reopened == "open"
    assert then.json["status"] == "confirmed"


def test_rejecting_another_proposal_leaves_the_confirmed_request_awaiting_consent(
    client: FlaskClient, border: Border
) -> None:
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    later = {"registration": {"date": "2024-05-01", "country": "IT"}}
    saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING | later)
    first, second = queue(client, border.de_officer)
    client.post(f"/api/v1/matches/{first['id']}/confirm", headers=border.de_officer, json={})

    rejected = client.post(
        f"/api/v1/matches/{second['id']}/reject", headers=border.de_officer, json={"reason": "other man"}
    )

    assert rejected.json["status"] == "rejected"
    path = f"/api/v1/tracing-requests/{request['id']}"
    assert client.get(path, headers=border.de_caseworker).json["status"] == "awaiting_consent"


def test_a_third_society_sees_nothing_of_a_pair(
    app: Flask, client: FlaskClient, border: Border, make: Factories
) -> None:
    saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    [match] = queue(client, border.it_officer)
    sweden = make.actor_headers(Role.TRACING_OFFICER, make.society("SE", country="SE"))

    assert queue(client, sweden) == []
    assert client.get(f"/api/v1/matches/{match['id']}", headers=sweden).status_code == 404
    assert client.post(f"/api/v1/matches/{match['id']}/confirm", headers=sweden, json={}).status_code == 404
    assert client.get("/api/v1/matches", headers=border.de_caseworker).status_code == 403
    assert ("match_candidate.read", "denied") in audit_actions(app, match["id"])


@pytest.mark.parametrize("sighting_first", [False, True], ids=["requests first", "sighting first"])
def test_excluded_societies_are_never_proposed_the_sighting(
    app: Flask, client: FlaskClient, border: Border, sighting_first: bool
) -> None:
    """Whichever side is proposed for: the sighting's (saved last), or the requests' (saved after it).
    No candidate is stored for the pair (the queue, which applies rule 10 again, would hide one)."""
    restrictions = {"no_cross_border": False, "exclude": ["DE"]}
    if sighting_first:
        saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING | {"restrictions": restrictions})
    saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    own = saved(client, "/api/v1/tracing-requests", border.it_caseworker, REQUEST)  # Italy asks for him too
    if not sighting_first:
        saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING | {"restrictions": restrictions})

    with app.app_context():
        proposed = db.session.scalars(sa.select(MatchCandidate.tracing_request_id)).all()
    assert [str(request_id) for request_id in proposed] == [own["id"]]

    assert queue(client, border.de_officer) == []
    assert [m["tracing_request_id"] for m in queue(client, border.it_officer)] == [own["id"]]


@pytest.mark.parametrize("sighting_first", [False, True], ids=["requests first", "sighting first"])
def test_a_sighting_kept_from_other_borders_is_proposed_to_its_own_society_alone(
    app: Flask, client: FlaskClient, border: Border, sighting_first: bool
) -> None:
    """Rule 10: its matches are reviewed by its own society only. Italy learns that a family in Germany
    is looking (a missed match would leave it without news); Germany learns nothing until Italy's
    officer, with the person's agreement, lifts the restriction."""
    kept = SIGHTING | {"restrictions": {"no_cross_border": True, "exclude": []}}
    if sighting_first:
        sighting = saved(client, "/api/v1/sightings", border.it_caseworker, kept)
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    if not sighting_first:
        sighting = saved(client, "/api/v1/sightings", border.it_caseworker, kept)

    [match] = queue(client, border.it_officer)
    germany_sees = queue(client, border.de_officer)
    detail_for_germany = client.get(f"/api/v1/matches/{match['id']}", headers=border.de_officer)
    confirm_path = f"/api/v1/matches/{match['id']}/confirm"
    confirmed_by_italy = client.post(confirm_path, headers=border.it_officer, json={})
    request_path = f"/api/v1/tracing-requests/{request['id']}"
    status = client.get(request_path, headers=border.de_caseworker).json["status"]
    patch(
        client,
        f"/api/v1/sightings/{sighting['id']}",
        border.it_officer,
        {"restrictions": {"no_cross_border": False}},
    )
    [lifted] = queue(client, border.de_officer)
    confirmed = client.post(confirm_path, headers=border.de_officer, json={})

    assert match["tracing_request_id"] == request["id"]
    assert germany_sees == []
    assert detail_for_germany.status_code == 404
    assert confirmed_by_italy.status_code == 403
    assert status == "open"  # nothing moved on the family's side
    assert ("match_candidate.confirm", "denied") in audit_actions(app, match["id"])
    assert lifted["id"] == match["id"]
    assert confirmed.json["status"] == "confirmed"


def test_a_sighting_excluding_one_request_is_proposed_to_the_others(
    client: FlaskClient, border: Border
) -> None:
    excluded = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    other = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    saved(
        client,
        "/api/v1/sightings",
        border.it_caseworker,
        SIGHTING | {"restrictions": {"no_cross_border": False, "exclude": [excluded["id"]]}},
    )

    assert [m["tracing_request_id"] for m in queue(client, border.de_officer)] == [other["id"]]


def test_restrictions_added_later_withdraw_the_pair_from_the_other_side(
    client: FlaskClient, border: Border
) -> None:
    saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    sighting = saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    [match] = queue(client, border.de_officer)

    patch(
        client,
        f"/api/v1/sightings/{sighting['id']}",
        border.it_caseworker,
        {"restrictions": {"exclude": ["DE"]}},
    )

    assert queue(client, border.de_officer) == []
    assert client.get(f"/api/v1/matches/{match['id']}", headers=border.de_officer).status_code == 404


def test_a_confirmed_pair_restricted_later_stays_with_the_sightings_society_to_withdraw(
    client: FlaskClient, border: Border
) -> None:
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    sighting = saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    [match] = queue(client, border.de_officer)
    client.post(f"/api/v1/matches/{match['id']}/confirm", headers=border.de_officer, json={})

    patch(
        client,
        f"/api/v1/sightings/{sighting['id']}",
        border.it_caseworker,
        {"restrictions": {"exclude": ["DE"]}},
    )
    germany_sees = queue(client, border.de_officer)
    [italy_sees] = queue(client, border.it_officer)
    withdrawn = client.post(
        f"/api/v1/matches/{match['id']}/withdraw", headers=border.it_officer, json={"reason": "fear"}
    )
    status = client.get(f"/api/v1/tracing-requests/{request['id']}", headers=border.de_caseworker).json[
        "status"
    ]

    assert germany_sees == []
    assert italy_sees["id"] == match["id"]
    assert withdrawn.status_code == 200, withdrawn.json
    assert status == "open"  # the family's search goes on; it never learns why


def test_pairs_hidden_from_an_officer_never_leave_a_queue_page_short(
    client: FlaskClient, border: Border
) -> None:
    saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    for day, kept in (("01", False), ("02", True), ("03", False)):  # one Germany may not see
        registration = {"date": f"2024-05-{day}", "country": "IT"}
        restrictions = {"no_cross_border": kept, "exclude": []}
        body = SIGHTING | {"registration": registration, "restrictions": restrictions}
        saved(client, "/api/v1/sightings", border.it_caseworker, body)
    assert len(queue(client, border.it_officer)) == 3

    pages, cursor = [], ""
    while True:
        page = client.get(f"/api/v1/matches?limit=1{cursor}", headers=border.de_officer).json
        pages.append(page["items"])
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"

    assert [len(items) for items in pages] == [1, 1]


def audit_actions(app: Flask, object_id: str) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.object_id == object_id).order_by(AuditEvent.seq)
        )
        return [(row.action, row.outcome) for row in rows]


def test_closing_a_request_ends_its_proposals_and_opening_it_again_proposes_anew(
    client: FlaskClient, border: Border
) -> None:
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    [first] = queue(client, border.de_officer)
    path = f"/api/v1/tracing-requests/{request['id']}"

    patch(client, path, border.de_caseworker, {"status": "closed"})
    while_closed = queue(client, border.it_officer, status="proposed")
    confirmed = client.post(f"/api/v1/matches/{first['id']}/confirm", headers=border.it_officer, json={})
    patch(client, path, border.de_caseworker, {"status": "open"})
    [again] = queue(client, border.it_officer, status="proposed")

    assert while_closed == []
    assert confirmed.status_code == 409
    assert confirmed.json["current"]["status"] == "superseded"
    assert again["id"] != first["id"]
    assert again["tracing_request_id"] == request["id"]


def test_a_pair_of_a_request_closed_before_its_proposals_followed_is_not_confirmed(
    app: Flask, client: FlaskClient, border: Border
) -> None:
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    [match] = queue(client, border.de_officer)
    with app.app_context(), db.transaction() as session:  # closed, its proposals not yet superseded
        session.get_one(TracingRequest, uuid.UUID(request["id"])).status = RecordStatus.CLOSED

    confirmed = client.post(f"/api/v1/matches/{match['id']}/confirm", headers=border.it_officer, json={})

    assert confirmed.status_code == 409
    assert confirmed.json["detail"] == "The tracing request is closed."
    assert confirmed.json["current"]["status"] == "proposed"


def test_a_pair_of_a_sighting_closed_before_its_proposals_followed_is_not_confirmed(
    app: Flask, client: FlaskClient, border: Border
) -> None:
    saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    sighting = saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    [match] = queue(client, border.de_officer)
    with app.app_context(), db.transaction() as session:  # closed, its proposals not yet superseded
        session.get_one(Sighting, uuid.UUID(sighting["id"])).status = RecordStatus.CLOSED

    confirmed = client.post(f"/api/v1/matches/{match['id']}/confirm", headers=border.de_officer, json={})

    assert confirmed.status_code == 409
    assert confirmed.json["detail"] == "This pair can no longer be confirmed."
