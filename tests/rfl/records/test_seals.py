"""Issue 9.11: the protection and status columns are sealed; one UPDATE by the application role no
longer lifts a restriction or clears a minor's or a deceased person's flag. A record whose seal fails
(or that has none) is read as its most restrictive setting on every path, audited, and named by
``rfl check``."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from rfl.audit.models import AuditEvent
from rfl.cli import main
from rfl.db import db
from rfl.extensions import app_services
from rfl.records import seals
from rfl.records.models import RecordMixin, Sighting, TracingRequest
from tests.border import REQUEST, SIGHTING, Border, queue, saved
from tests.conftest import tamper


def stored(app: Flask, model: type[RecordMixin], record_id: str) -> RecordMixin:
    with app.app_context(), db.transaction() as session:
        record = session.get_one(model, uuid.UUID(record_id))
        session.expunge(record)
        return record


def seal_failures(app: Flask) -> list[tuple[str, str | None, str, uuid.UUID | None]]:
    with app.app_context(), db.transaction() as session:
        rows = session.execute(
            sa.select(
                AuditEvent.action, AuditEvent.object_id, AuditEvent.outcome, AuditEvent.owner_society_id
            ).where(AuditEvent.action.in_(["sighting.seal_invalid", "tracing_request.seal_invalid"]))
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def sighting(**restrictions: Any) -> dict[str, Any]:
    body = copy.deepcopy(SIGHTING)
    body["restrictions"] = {"no_cross_border": False, "exclude": []} | restrictions
    return body


def search(client: FlaskClient, headers: dict[str, str], for_request: str | None = None) -> list[str]:
    body = {"q": "Muhammad Alhassan", "tracing_request_id": for_request}
    response = client.post(
        "/api/v1/sightings/search", headers=headers, json={k: v for k, v in body.items() if v is not None}
    )
    assert response.status_code == 200, response.json
    return [hit["id"] for hit in response.json["items"]]


def german_request(client: FlaskClient, border: Border) -> str:
    """A German request to search for: only then are other societies' sightings searched."""
    return str(saved(client, "/api/v1/tracing-requests", border.de_officer, REQUEST)["id"])


def test_lifting_no_cross_border_in_the_database_does_not_open_the_sighting_to_other_societies(
    app: Flask, client: FlaskClient, border: Border
) -> None:
    protected = saved(client, "/api/v1/sightings", border.it_caseworker, sighting(no_cross_border=True))
    assert protected["id"] not in search(client, border.de_officer, german_request(client, border))

    tamper(app, Sighting, protected["id"], no_cross_border=False)

    assert protected["id"] not in search(client, border.de_officer, german_request(client, border))
    assert ("sighting.seal_invalid", protected["id"], "failed", border.italy.id) in seal_failures(app)
    # Its own society still finds it, and reads it as restricted (and as a possible minor).
    assert protected["id"] in search(client, border.it_caseworker)
    own = client.get(f"/api/v1/sightings/{protected['id']}", headers=border.it_caseworker).json
    assert own["restrictions"] == {"no_cross_border": True, "exclude": []}
    assert own["minor"] is True


def test_an_exclusion_dropped_in_the_database_still_keeps_the_pair_from_being_proposed(
    app: Flask, client: FlaskClient, border: Border
) -> None:
    excluded = saved(client, "/api/v1/sightings", border.it_caseworker, sighting(exclude=["DE"]))
    tamper(app, Sighting, excluded["id"], exclude=[])

    saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)

    assert queue(client, border.de_officer) == []
    assert queue(client, border.it_officer) == []
    assert ("sighting.seal_invalid", excluded["id"], "failed", border.italy.id) in seal_failures(app)


def test_a_pair_whose_sighting_was_altered_leaves_the_queues_and_its_details(
    app: Flask, client: FlaskClient, border: Border
) -> None:
    saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    found = saved(client, "/api/v1/sightings", border.it_caseworker, sighting())
    [match] = queue(client, border.de_officer)

    tamper(app, Sighting, found["id"], exclude=["SE"])  # any change breaks the seal

    assert queue(client, border.de_officer) == []
    assert queue(client, border.it_officer) == []
    detail = client.get(f"/api/v1/matches/{match['id']}", headers=border.de_officer)
    confirm = client.post(f"/api/v1/matches/{match['id']}/confirm", headers=border.it_officer, json={})
    disclosure = client.post(
        f"/api/v1/matches/{match['id']}/disclosures", headers=border.de_officer, json={"fields": ["fate"]}
    )
    assert (detail.status_code, confirm.status_code, disclosure.status_code) == (404, 404, 404)


def test_a_minor_flag_cleared_in_the_database_still_needs_a_second_officer(
    app: Flask, client: FlaskClient, border: Border
) -> None:
    child = copy.deepcopy(REQUEST)
    child["sought_person"]["birth_date"] = "2015"
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, child)
    young = sighting()
    young["person"]["birth_date"] = "2015"
    saved(client, "/api/v1/sightings", border.it_caseworker, young)
    assert stored(app, TracingRequest, request["id"]).minor is True
    [match] = queue(client, border.de_officer)

    tamper(app, TracingRequest, request["id"], minor=False, flagged_minor=False)
    confirmed = client.post(f"/api/v1/matches/{match['id']}/confirm", headers=border.de_officer, json={})

    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["status"] == "pending_approval"
    assert ("tracing_request.seal_invalid", request["id"], "failed", border.germany.id) in seal_failures(app)


def test_a_minor_flag_cleared_in_the_database_still_needs_a_guardians_consent(
    app: Flask, client: FlaskClient, border: Border
) -> None:
    request = saved(client, "/api/v1/tracing-requests", border.de_caseworker, REQUEST)
    flagged = sighting()
    flagged["person"]["flagged_minor"] = True
    found = saved(client, "/api/v1/sightings", border.it_caseworker, flagged)
    [match] = queue(client, border.it_officer)
    client.post(f"/api/v1/matches/{match['id']}/confirm", headers=border.it_officer, json={})
    client.post(f"/api/v1/matches/{match['id']}/approve", headers=border.it_second_officer, json={})

    tamper(app, Sighting, found["id"], flagged_minor=False, minor=False)
    consent = client.post(
        f"/api/v1/sightings/{found['id']}/consents",
        headers=border.it_officer,
        json={
            "decision": "given",
            "scope": ["alive_and_well"],
            "method": "oral",
            "recipient_tracing_request_id": request["id"],
        },
    )

    assert consent.status_code == 422, consent.json
    assert "method" in consent.json["errors"]


def test_an_owners_edit_of_an_altered_record_keeps_and_seals_the_restrictive_setting(
    app: Flask, client: FlaskClient, border: Border
) -> None:
    protected = saved(client, "/api/v1/sightings", border.it_caseworker, sighting(no_cross_border=True))
    tamper(app, Sighting, protected["id"], no_cross_border=False)
    current = client.get(f"/api/v1/sightings/{protected['id']}", headers=border.it_caseworker)

    edited = client.patch(
        f"/api/v1/sightings/{protected['id']}",
        headers=border.it_caseworker | {"If-Match": current.headers["ETag"]},
        json={"person": {"father_name": "Yusuf"}},
        content_type="application/merge-patch+json",
    )

    assert edited.status_code == 200, edited.json
    assert edited.json["restrictions"]["no_cross_border"] is True
    assert stored(app, Sighting, protected["id"]).no_cross_border is True
    assert protected["id"] not in search(client, border.de_officer, german_request(client, border))
    result = app.test_cli_runner().invoke(main, ["check"])
    assert result.exit_code == 0, result.output


def test_unsealed_records_are_restricted_until_sealed_and_rfl_check_names_the_failures(
    app: Flask, client: FlaskClient, border: Border
) -> None:
    legacy = saved(client, "/api/v1/sightings", border.it_caseworker, sighting())
    altered = saved(client, "/api/v1/sightings", border.it_caseworker, sighting(no_cross_border=True))
    tamper(app, Sighting, legacy["id"], seal=None)  # as registered before seals were kept
    tamper(app, Sighting, altered["id"], no_cross_border=False)
    version = stored(app, Sighting, legacy["id"]).version

    assert legacy["id"] not in search(
        client, border.de_officer, german_request(client, border)
    )  # a missing seal is no permission
    checked = app.test_cli_runner().invoke(main, ["check"])
    assert checked.exit_code == 1
    assert f"FAIL: sighting {legacy['id']}" in checked.output
    assert f"FAIL: sighting {altered['id']}" in checked.output
    assert "2 records whose seal fails" in checked.output

    sealed = app.test_cli_runner().invoke(main, ["records", "seal", "--batch", "1"])

    assert sealed.exit_code == 0, sealed.output
    assert "1 records sealed" in sealed.output  # the broken seal is not papered over
    assert legacy["id"] in search(client, border.de_officer, german_request(client, border))
    assert altered["id"] not in search(client, border.de_officer, german_request(client, border))
    assert stored(app, Sighting, legacy["id"]).version == version  # clients' ETags still hold
    rechecked = app.test_cli_runner().invoke(main, ["check"])
    assert rechecked.exit_code == 1
    assert legacy["id"] not in rechecked.output
    with app.app_context(), db.transaction() as session:
        entries = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "sighting.seal")).all()
    assert [(e.object_id, e.owner_society_id) for e in entries] == [(legacy["id"], border.italy.id)]
    assert entries[0].fields == [
        "deceased",
        "exclude",
        "flagged_minor",
        "minor",
        "no_cross_border",
        "society_id",
    ]


def test_a_row_read_without_the_orm_is_checked_as_its_record_and_only_with_its_model(
    app: Flask, client: FlaskClient, border: Border
) -> None:
    """Searches read their candidates as rows: a row's seal holds or fails as its record's does, and a
    row given without the model it is a row of is refused rather than guessed."""
    intact = saved(client, "/api/v1/sightings", border.it_caseworker, sighting())
    altered = saved(client, "/api/v1/sightings", border.it_caseworker, sighting(no_cross_border=True))
    tamper(app, Sighting, altered["id"], no_cross_border=False)
    columns = [Sighting.id, Sighting.society_id, Sighting.minor, Sighting.flagged_minor, Sighting.seal]
    columns += [Sighting.deceased, Sighting.no_cross_border, Sighting.exclude]

    with app.app_context(), db.transaction() as session:
        crypto = app_services(app).crypto(session)
        rows = {
            str(row.id): row
            for row in session.execute(
                sa.select(*columns).where(
                    Sighting.id.in_([uuid.UUID(intact["id"]), uuid.UUID(altered["id"])])
                )
            )
        }
        checked = {
            key: seals.Seals(crypto, lambda _entry: None).protection(row, Sighting)
            for key, row in rows.items()
        }
        with pytest.raises(TypeError):
            seals.seal_holds(crypto, rows[intact["id"]])

    assert checked[intact["id"]].intact
    assert not checked[intact["id"]].no_cross_border  # its stored setting
    assert not checked[altered["id"]].intact
    assert checked[altered["id"]].no_cross_border  # read as the most restrictive setting
