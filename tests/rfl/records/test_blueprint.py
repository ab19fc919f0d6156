"""Tracing requests and sightings over HTTP: create, read, patch, list, search, and the refusals."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from rfl.accounts.models import Role, Society
from rfl.audit.models import AuditEvent
from rfl.db import db
from rfl.extensions import app_services
from rfl.records import blueprint as records_blueprint
from rfl.records import services
from rfl.records.models import RecordEdit, Sighting, TracingRequest
from tests.conftest import Factories
from tests.rfl.records.conftest import SIGHTING, TRACING_REQUEST, sighting, tracing_request

MERGE_PATCH = "application/merge-patch+json"


def count(make: Factories, model: type[Any]) -> int:
    return make.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def audit_actions(app: Flask) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq))
        return [(row.action, row.outcome, row.object_id) for row in rows]


class TestCreateAndRead:
    def test_created_request_reads_back_whole(self, client: FlaskClient, make: Factories) -> None:
        society = make.society("IT")
        headers = make.actor_headers(Role.CASEWORKER, society)

        created = client.post("/api/v1/tracing-requests", headers=headers, json=TRACING_REQUEST)
        read = client.get(f"/api/v1/tracing-requests/{created.json['id']}", headers=headers)

        assert created.status_code == 201
        assert created.json["status"] == "open"
        assert created.json["society"] == "IT"
        assert read.status_code == 200
        assert read.headers["ETag"] == created.headers["ETag"]
        assert read.json["sought_person"] == TRACING_REQUEST["sought_person"]
        assert read.json["enquirer"] == TRACING_REQUEST["enquirer"]
        assert read.json["separation"] == TRACING_REQUEST["separation"]
        assert read.json["message"] == TRACING_REQUEST["message"]

    def test_created_sighting_reads_back_whole(self, client: FlaskClient, make: Factories) -> None:
        headers = make.actor_headers(Role.TRACING_OFFICER)

        created = client.post("/api/v1/sightings", headers=headers, json=SIGHTING)
        read = client.get(f"/api/v1/sightings/{created.json['id']}", headers=headers)

        assert created.status_code == 201
        assert read.json["person"] == SIGHTING["person"]
        assert read.json["whereabouts"] == SIGHTING["whereabouts"]
        assert read.json["condition"] == "alive"
        assert read.json["restrictions"] == {"no_cross_border": False, "exclude": []}

    def test_minor_is_decided_from_any_reading_of_age_or_birth_date(
        self, client: FlaskClient, make: Factories
    ) -> None:
        headers = make.actor_headers(Role.CASEWORKER)

        adult = client.post("/api/v1/sightings", headers=headers, json=sighting(age=40))
        teen_range = client.post("/api/v1/sightings", headers=headers, json=sighting(age="16-20"))
        year_only = client.post(
            "/api/v1/sightings", headers=headers, json=sighting(age=None, birth_date="2006")
        )
        flagged = client.post("/api/v1/sightings", headers=headers, json=sighting(age=40, flagged_minor=True))

        assert [r.json["minor"] for r in (adult, teen_range, year_only, flagged)] == [False, True, True, True]

    def test_other_societies_records_answer_404_and_the_attempt_is_audited(
        self, app: Flask, client: FlaskClient, make: Factories
    ) -> None:
        owner = make.actor_headers(Role.CASEWORKER, make.society("IT"))
        stranger = make.actor_headers(Role.TRACING_OFFICER, make.society("DE", country="DE"))
        record_id = client.post("/api/v1/sightings", headers=owner, json=SIGHTING).json["id"]

        foreign = client.get(f"/api/v1/sightings/{record_id}", headers=stranger)
        missing = client.get("/api/v1/sightings/00000000-0000-0000-0000-000000000000", headers=stranger)
        patch = client.patch(
            f"/api/v1/sightings/{record_id}",
            headers=stranger | {"Content-Type": MERGE_PATCH, "If-Match": "*"},
            data='{"condition": "deceased"}',
        )

        assert foreign.status_code == missing.status_code == patch.status_code == 404
        assert foreign.json == missing.json
        assert ("sighting.read", "denied", record_id) in audit_actions(app)

    def test_auditors_and_admins_read_no_records(self, client: FlaskClient, make: Factories) -> None:
        society = make.society()
        record_id = client.post(
            "/api/v1/tracing-requests",
            headers=make.actor_headers(Role.CASEWORKER, society),
            json=TRACING_REQUEST,
        ).json["id"]

        for role in (Role.AUDITOR, Role.ADMIN):
            headers = make.actor_headers(role, society)
            assert client.get(f"/api/v1/tracing-requests/{record_id}", headers=headers).status_code == 403
            assert (
                client.post("/api/v1/tracing-requests", headers=headers, json=TRACING_REQUEST).status_code
                == 403
            )

    def test_reads_and_creates_are_audited_with_field_names_only(
        self, app: Flask, client: FlaskClient, make: Factories
    ) -> None:
        headers = make.actor_headers(Role.CASEWORKER)
        record_id = client.post("/api/v1/tracing-requests", headers=headers, json=TRACING_REQUEST).json["id"]
        client.get(f"/api/v1/tracing-requests/{record_id}", headers=headers)

        with app.app_context():
            events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_id == record_id)).all()
        assert [e.action for e in events] == ["tracing_request.create", "tracing_request.read"]
        assert "sought_person.given_name" in events[1].fields
        assert "Mohammed" not in str([vars(e) for e in events])


class TestValidation:
    def test_bad_fields_are_named_and_nothing_is_stored(self, client: FlaskClient, make: Factories) -> None:
        headers = make.actor_headers(Role.CASEWORKER)
        body = tracing_request(
            birth_date="1990-02-30", nationality="XX", age="35-30", sex="male", shoe_size=42
        )
        body["legal_basis"] = "because"
        body["enquirer"] = {"relationship": "brother"}
        before = count(make, TracingRequest)

        response = client.post("/api/v1/tracing-requests", headers=headers, json=body)

        assert response.status_code == 422
        errors = response.json["errors"]
        assert set(errors["sought_person"]) == {"birth_date", "nationality", "age", "sex", "shoe_size"}
        assert set(errors["enquirer"]) == {"full_name"}
        assert "legal_basis" in errors
        assert count(make, TracingRequest) == before

    def test_a_person_needs_a_name(self, client: FlaskClient, make: Factories) -> None:
        body = sighting(given_name=None, family_name=None)

        response = client.post("/api/v1/sightings", headers=make.actor_headers(Role.CASEWORKER), json=body)

        assert response.status_code == 422
        assert "given_name" in response.json["errors"]["person"]

    def test_restrictions_are_validated(self, client: FlaskClient, make: Factories) -> None:
        body = sighting(restrictions={"no_cross_border": "maybe", "exclude": ["not a code!"]})

        response = client.post("/api/v1/sightings", headers=make.actor_headers(Role.CASEWORKER), json=body)

        assert response.status_code == 422
        assert set(response.json["errors"]["restrictions"]) == {"no_cross_border", "exclude"}


class TestPatch:
    def create(self, client: FlaskClient, headers: dict[str, str]) -> tuple[str, str]:
        created = client.post("/api/v1/tracing-requests", headers=headers, json=TRACING_REQUEST)
        return created.json["id"], created.headers["ETag"]

    def test_patch_reencrypts_only_what_changed_and_keeps_history(
        self, app: Flask, client: FlaskClient, make: Factories
    ) -> None:
        headers = make.actor_headers(Role.CASEWORKER)
        record_id, etag = self.create(client, headers)
        with app.app_context():
            before = db.session.get_one(TracingRequest, uuid.UUID(record_id))
            unchanged, changed = before.sought_family_name, before.sought_given_name

        response = client.patch(
            f"/api/v1/tracing-requests/{record_id}",
            headers=headers | {"Content-Type": MERGE_PATCH, "If-Match": etag},
            json={"sought_person": {"given_name": "Muhammad", "phone": None}, "status": "closed"},
        )

        assert response.status_code == 200
        assert response.json["sought_person"]["given_name"] == "Muhammad"
        assert "phone" not in response.json["sought_person"]
        assert response.json["status"] == "closed"
        assert response.headers["ETag"] != etag
        with app.app_context():
            after = db.session.get_one(TracingRequest, uuid.UUID(record_id))
            assert after.sought_family_name == unchanged
            assert after.sought_given_name != changed
            edits = db.session.scalars(sa.select(RecordEdit).where(RecordEdit.record_id == after.id)).all()
        assert [edit.changed_fields for edit in edits] == [
            ["sought_person.given_name", "sought_person.phone", "status"]
        ]

    def test_stale_or_missing_if_match_and_invalid_results_change_nothing(
        self, client: FlaskClient, make: Factories
    ) -> None:
        headers = make.actor_headers(Role.CASEWORKER)
        record_id, etag = self.create(client, headers)
        url = f"/api/v1/tracing-requests/{record_id}"
        client.patch(
            url, headers=headers | {"Content-Type": MERGE_PATCH, "If-Match": etag}, json={"message": "new"}
        )

        stale = client.patch(
            url, headers=headers | {"Content-Type": MERGE_PATCH, "If-Match": etag}, json={"message": "x"}
        )
        missing = client.patch(url, headers=headers | {"Content-Type": MERGE_PATCH}, json={"message": "x"})
        current = client.get(url, headers=headers)
        invalid = client.patch(
            url,
            headers=headers | {"Content-Type": MERGE_PATCH, "If-Match": current.headers["ETag"]},
            json={"sought_person": {"birth_date": "tomorrow"}, "enquirer": None},
        )

        assert stale.status_code == 412
        assert missing.status_code == 428
        assert invalid.status_code == 422
        assert set(invalid.json["errors"]) == {"sought_person", "enquirer"}
        assert client.get(url, headers=headers).json["message"] == "new"

    def test_a_write_that_loses_a_race_is_a_412(
        self, client: FlaskClient, make: Factories, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Another transaction commits a new version between this request's If-Match check and its UPDATE.
        headers = make.actor_headers(Role.CASEWORKER)
        record_id, etag = self.create(client, headers)
        real_check = records_blueprint.require_if_match

        def check_then_lose_the_race(request: Any, current_etag: str) -> None:
            real_check(request, current_etag)
            db.session.execute(
                sa.update(TracingRequest)
                .where(TracingRequest.id == uuid.UUID(record_id))
                .values(version=TracingRequest.version + 1)
                .execution_options(synchronize_session=False)
            )

        monkeypatch.setattr(records_blueprint, "require_if_match", check_then_lose_the_race)
        response = client.patch(
            f"/api/v1/tracing-requests/{record_id}",
            headers=headers | {"Content-Type": MERGE_PATCH, "If-Match": etag},
            json={"message": "lost"},
        )

        assert response.status_code == 412

    def test_a_request_without_a_message_can_be_patched(self, client: FlaskClient, make: Factories) -> None:
        headers = make.actor_headers(Role.CASEWORKER)
        body = tracing_request()
        del body["message"]
        created = client.post("/api/v1/tracing-requests", headers=headers, json=body)

        response = client.patch(
            f"/api/v1/tracing-requests/{created.json['id']}",
            headers=headers | {"Content-Type": MERGE_PATCH, "If-Match": created.headers["ETag"]},
            json={"status": "closed"},
        )

        assert response.status_code == 200
        assert "message" not in response.json or response.json["message"] is None

    def test_status_cannot_be_removed(self, client: FlaskClient, make: Factories) -> None:
        headers = make.actor_headers(Role.CASEWORKER)
        record_id, etag = self.create(client, headers)
        url = f"/api/v1/tracing-requests/{record_id}"
        closed = client.patch(
            url, headers=headers | {"Content-Type": MERGE_PATCH, "If-Match": etag}, json={"status": "closed"}
        )

        response = client.patch(
            url,
            headers=headers | {"Content-Type": MERGE_PATCH, "If-Match": closed.headers["ETag"]},
            json={"status": None},
        )

        assert response.status_code == 422
        assert client.get(url, headers=headers).json["status"] == "closed"

    def test_only_tracing_officers_change_restrictions(
        self, app: Flask, client: FlaskClient, make: Factories
    ) -> None:
        society = make.society()
        make.society("DE", country="DE")
        caseworker = make.actor_headers(Role.CASEWORKER, society)
        officer = make.actor_headers(Role.TRACING_OFFICER, society)
        created = client.post(
            "/api/v1/sightings", headers=caseworker, json=sighting({"no_cross_border": True})
        )
        url = f"/api/v1/sightings/{created.json['id']}"
        patch = {"Content-Type": MERGE_PATCH, "If-Match": created.headers["ETag"]}

        refused = client.patch(url, headers=caseworker | patch, json={"restrictions": None})
        allowed = client.patch(url, headers=officer | patch, json={"restrictions": {"exclude": ["DE"]}})

        assert refused.status_code == 403
        assert ("sighting.update", "denied", created.json["id"]) in audit_actions(app)
        assert allowed.status_code == 200
        assert allowed.json["restrictions"] == {"no_cross_border": True, "exclude": ["DE"]}


class TestListAndIdempotency:
    def test_own_list_shows_display_names_and_audits_them_as_reads(
        self, app: Flask, client: FlaskClient, make: Factories
    ) -> None:
        society = make.society()
        headers = make.actor_headers(Role.CASEWORKER, society)
        ids = [client.post("/api/v1/sightings", headers=headers, json=SIGHTING).json["id"] for _ in range(3)]
        client.post("/api/v1/sightings", headers=make.actor_headers(Role.CASEWORKER), json=SIGHTING)

        page = client.get("/api/v1/sightings?status=open&limit=2", headers=headers)
        rest = client.get(f"/api/v1/sightings?cursor={page.json['next_cursor']}", headers=headers)
        closed = client.get("/api/v1/sightings?status=closed", headers=headers)

        listed = page.json["items"] + rest.json["items"]
        assert [item["id"] for item in listed] == ids
        assert closed.json["items"] == []
        assert {item["display_name"] for item in listed} == {"Muhammad Alhassan"}
        # Only the name is decrypted for a list: nothing else personal is in it.
        assert set(page.json["items"][0]) == {
            "id",
            "display_name",
            "status",
            "society",
            "legal_basis",
            "minor",
            "created_at",
            "updated_at",
        }
        assert "Youssef" not in page.get_data(as_text=True)
        with app.app_context():
            listed_reads = db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == "sighting.list").order_by(AuditEvent.seq)
            ).all()
        assert [event.object_id for event in listed_reads] == ids
        assert listed_reads[0].fields == ["person.family_name", "person.given_name"]

    def test_created_record_has_a_location(self, client: FlaskClient, make: Factories) -> None:
        headers = make.actor_headers(Role.CASEWORKER)

        created = client.post("/api/v1/sightings", headers=headers, json=SIGHTING)

        assert created.headers["Location"] == f"/api/v1/sightings/{created.json['id']}"
        assert client.get(created.headers["Location"], headers=headers).status_code == 200

    def test_a_retried_create_returns_the_first_record(self, client: FlaskClient, make: Factories) -> None:
        headers = make.actor_headers(Role.CASEWORKER) | {"Idempotency-Key": "field-retry-1"}
        before = count(make, Sighting)

        first = client.post("/api/v1/sightings", headers=headers, json=SIGHTING)
        second = client.post("/api/v1/sightings", headers=headers, json=SIGHTING)

        assert first.status_code == second.status_code == 201
        assert first.json == second.json
        assert count(make, Sighting) == before + 1


class TestSearch:
    def test_transliterated_and_reordered_names_are_found_and_ranked(
        self, client: FlaskClient, make: Factories
    ) -> None:
        headers = make.actor_headers(Role.CASEWORKER)
        ids = {
            name: client.post(
                "/api/v1/sightings", headers=headers, json=sighting(given_name=given, family_name=family)
            ).json["id"]
            for name, (given, family) in {
                "latin": ("Muhammad", "Alhassan"),
                "arabic": ("محمد", "الحسن"),
                "other": ("Oleksandr", "Kovalenko"),
                "similar": ("Mohammad", "Husaini"),
            }.items()
        }

        response = client.post("/api/v1/sightings/search", headers=headers, json={"q": "Hassan Mohammed"})

        found = [hit["id"] for hit in response.json["items"]]
        assert response.status_code == 200
        assert ids["latin"] in found
        assert ids["arabic"] in found
        assert ids["other"] not in found
        assert found.index(ids["latin"]) < found.index(ids["similar"])  # Hassan is not Husaini
        assert response.json["items"][0]["name"] is not None

    def test_caseworkers_search_only_their_own_society(self, client: FlaskClient, make: Factories) -> None:
        client.post(
            "/api/v1/tracing-requests", headers=make.actor_headers(Role.CASEWORKER), json=TRACING_REQUEST
        )

        response = client.post(
            "/api/v1/tracing-requests/search",
            headers=make.actor_headers(Role.CASEWORKER),
            json={"q": "Mohammed"},
        )

        assert response.json["items"] == []

    def test_restrictions_are_honoured_in_cross_border_search_and_audited(
        self, app: Flask, client: FlaskClient, make: Factories
    ) -> None:
        italy, germany = make.society("IT"), make.society("DE", country="DE")
        owner = make.actor_headers(Role.CASEWORKER, italy)
        officer = make.actor_headers(Role.TRACING_OFFICER, germany)
        request_id = client.post("/api/v1/tracing-requests", headers=officer, json=TRACING_REQUEST).json["id"]
        open_id = client.post(
            "/api/v1/sightings", headers=owner, json=sighting(given_name="Tesfaye", family_name="Haile")
        ).json["id"]
        hidden_id = client.post(
            "/api/v1/sightings",
            headers=owner,
            json=sighting({"no_cross_border": True}, given_name="Tesfay", family_name="Haile"),
        ).json["id"]
        excluded_id = client.post(
            "/api/v1/sightings",
            headers=owner,
            json=sighting({"exclude": ["DE"]}, given_name="Tesfaye", family_name="Hailé"),
        ).json["id"]

        foreign = client.post(
            "/api/v1/sightings/search",
            headers=officer,
            json={"q": "Tesfaye Haile", "tracing_request_id": request_id},
        )
        home = client.post("/api/v1/sightings/search", headers=owner, json={"q": "Tesfaye Haile"})

        assert foreign.json["items"] == [{"id": open_id, "society": "IT", "band": "strong"}]
        assert {hit["id"] for hit in home.json["items"]} == {open_id, hidden_id, excluded_id}
        with app.app_context():
            withheld = db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == "sighting.restriction_applied")
            ).one()
        assert withheld.outcome == "denied"
        assert sorted(withheld.object_ids or []) == sorted([hidden_id, excluded_id])

    def test_restricted_records_never_crowd_out_visible_ones(
        self, client: FlaskClient, make: Factories, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(services, "SEARCH_CANDIDATES", 3)
        italy, germany = make.society("IT"), make.society("DE", country="DE")
        for _ in range(5):
            client.post(
                "/api/v1/sightings",
                headers=make.actor_headers(Role.CASEWORKER, italy),
                json=sighting({"no_cross_border": True}, given_name="Muhammad", family_name="Alhassan"),
            )
        officer = make.actor_headers(Role.TRACING_OFFICER, germany)
        own = client.post(
            "/api/v1/sightings", headers=officer, json=sighting(given_name="Muhammad", family_name="Smith")
        )

        response = client.post("/api/v1/sightings/search", headers=officer, json={"q": "Muhammad"})

        assert [hit["id"] for hit in response.json["items"]] == [own.json["id"]]

    def test_search_follows_an_edited_name(self, client: FlaskClient, make: Factories) -> None:
        headers = make.actor_headers(Role.CASEWORKER)
        created = client.post(
            "/api/v1/sightings", headers=headers, json=sighting(given_name="Yonas", family_name="Tekle")
        )
        client.patch(
            f"/api/v1/sightings/{created.json['id']}",
            headers=headers | {"Content-Type": MERGE_PATCH, "If-Match": created.headers["ETag"]},
            json={"person": {"given_name": "Kidane"}},
        )

        def found(query: str) -> list[str]:
            response = client.post("/api/v1/sightings/search", headers=headers, json={"q": query})
            return [hit["id"] for hit in response.json["items"]]

        assert created.json["id"] in found("Kidane Tekle")
        assert created.json["id"] not in found("Yonas")

    def test_a_query_without_a_usable_name_is_422(self, client: FlaskClient, make: Factories) -> None:
        headers = make.actor_headers(Role.CASEWORKER)

        assert client.post("/api/v1/sightings/search", headers=headers, json={"q": "1 2"}).status_code == 422
        assert client.post("/api/v1/sightings/search", headers=headers, json={}).status_code == 422


def test_societies_have_their_own_key_rings(app: Flask, make: Factories) -> None:
    society = make.society()
    assert str(society.id) in app_services(app).keys.ring_ids
    with app.app_context():
        assert db.session.get(Society, society.id) is not None


class TestDates:
    @pytest.mark.parametrize(
        ("path", "body", "field"),
        [
            ("/api/v1/sightings", {"registration": {"date": "2026-12-01", "country": "IT"}}, "registration"),
            ("/api/v1/sightings", {"registration": {"date": "2027", "country": "IT"}}, "registration"),
            ("/api/v1/tracing-requests", {"separation": {"date": "2026-12"}}, "separation"),
        ],
    )
    def test_dates_in_the_future_are_refused_and_nothing_is_stored(
        self, client: FlaskClient, make: Factories, path: str, body: dict[str, Any], field: str
    ) -> None:
        # The test clock says 2026-11-28.
        base = SIGHTING if "sightings" in path else TRACING_REQUEST
        model = Sighting if "sightings" in path else TracingRequest
        before = count(make, model)

        response = client.post(path, headers=make.actor_headers(Role.CASEWORKER), json=base | body)

        assert response.status_code == 422
        assert response.json["errors"][field]["date"] == ["Must not be in the future."]
        assert count(make, model) == before

    def test_todays_date_and_a_partial_date_covering_today_are_accepted(
        self, client: FlaskClient, make: Factories
    ) -> None:
        headers = make.actor_headers(Role.CASEWORKER)
        today = SIGHTING | {"registration": {"date": "2026-11-28", "country": "IT"}}
        this_month = TRACING_REQUEST | {"separation": {"date": "2026-11"}}

        assert client.post("/api/v1/sightings", headers=headers, json=today).status_code == 201
        assert client.post("/api/v1/tracing-requests", headers=headers, json=this_month).status_code == 201
