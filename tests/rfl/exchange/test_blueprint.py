"""`POST /api/v1/imports` (multipart, size-limited, 202 with a job run like matching proposals),
`GET /api/v1/imports/{id}`, and the same rules as the command line."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from rfl.accounts.models import Role
from rfl.exchange import services as exchange_services
from rfl.exchange.worker import drain_imports
from rfl.records import services as records
from tests.conftest import Factories, FakeClock, make_settings
from tests.rfl.exchange import samples
from tests.rfl.exchange.conftest import CSV_GOOD, CSV_MAPPING, audit_actions, counts


def upload(client: FlaskClient, headers: dict[str, str], data: bytes, **form: str) -> Any:
    fields: dict[str, Any] = {"format": "pfif", "legal_basis": "vital_interest"} | form
    fields["file"] = (io.BytesIO(data), "upload.bin")
    response = client.post(
        "/api/v1/imports", headers=headers, data=fields, content_type="multipart/form-data"
    )
    response.close()  # runs what follows the answer in this process: the import, then proposals
    return response


@pytest.fixture
def officer(make: Factories) -> dict[str, str]:
    return make.actor_headers(Role.TRACING_OFFICER, make.society("IT"))


def test_an_upload_is_accepted_as_a_job_that_imports_the_file(
    app: Flask, client: FlaskClient, officer: dict[str, str]
) -> None:
    accepted = upload(client, officer, samples.PFIF_14)

    assert accepted.status_code == 202, accepted.json
    assert accepted.headers["Location"].endswith(f"/api/v1/imports/{accepted.json['id']}")
    job = client.get(accepted.headers["Location"], headers=officer)
    assert job.status_code == 200
    assert job.json["status"] == "done"
    assert job.json["counts"] == {"total": 2, "imported": 2, "already_present": 0, "rejected": 0}
    assert job.json["report"] == []
    assert counts(app) | {"outbox": 0} == {
        "tracing_requests": 1,
        "sightings": 1,
        "imported": 2,
        "jobs": 1,
        "outbox": 0,
    }
    # the uploaded file is gone once the job ended, its data key destroyed
    from rfl.db import db
    from rfl.exchange.models import ImportJob

    with app.app_context():
        assert db.session.get_one(ImportJob, uuid.UUID(accepted.json["id"])).payload is None


def test_a_csv_upload_with_its_mapping_reports_rejected_rows(
    client: FlaskClient, officer: dict[str, str]
) -> None:
    accepted = upload(client, officer, CSV_GOOD.encode(), format="csv", mapping=json.dumps(CSV_MAPPING))

    job = client.get(f"/api/v1/imports/{accepted.json['id']}", headers=officer).json
    assert job["counts"] == {"total": 5, "imported": 3, "already_present": 0, "rejected": 2}
    assert [(p["position"], p["field"]) for p in job["report"]] == [
        (4, "person.birth_date"),
        (5, "person.nationality"),
    ]


def test_all_or_nothing_over_http(client: FlaskClient, officer: dict[str, str], app: Flask) -> None:
    accepted = upload(
        client,
        officer,
        CSV_GOOD.encode(),
        format="csv",
        mapping=json.dumps(CSV_MAPPING),
        mode="all_or_nothing",
    )

    job = client.get(f"/api/v1/imports/{accepted.json['id']}", headers=officer).json
    assert job["status"] == "rejected"
    assert counts(app)["sightings"] == 0


@pytest.mark.parametrize(
    "document",
    [samples.BILLION_LAUGHS, samples.WITH_DTD, samples.MALFORMED, samples.WRONG_NAMESPACE],
    ids=["billion-laughs", "dtd", "malformed", "wrong-namespace"],
)
def test_a_refused_file_is_a_clear_422_and_nothing_is_kept(
    app: Flask, client: FlaskClient, officer: dict[str, str], document: bytes
) -> None:
    refused = upload(client, officer, document)

    assert refused.status_code == 422
    assert refused.json["errors"]["file"]
    assert counts(app) == {"tracing_requests": 0, "sightings": 0, "imported": 0, "jobs": 0, "outbox": 0}


def test_a_csv_without_a_mapping_is_a_422(client: FlaskClient, officer: dict[str, str]) -> None:
    refused = upload(client, officer, CSV_GOOD.encode(), format="csv")

    assert refused.status_code == 422
    assert "mapping" in refused.json["errors"]


def test_the_legal_basis_is_required(client: FlaskClient, officer: dict[str, str], app: Flask) -> None:
    response = client.post(
        "/api/v1/imports",
        headers=officer,
        data={"format": "pfif", "file": (io.BytesIO(samples.PFIF_14), "a.xml")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 422
    assert "legal_basis" in json.dumps(response.json)
    assert counts(app)["jobs"] == 0


def test_a_json_body_is_415(client: FlaskClient, officer: dict[str, str]) -> None:
    response = client.post("/api/v1/imports", headers=officer, json={"format": "pfif"})

    assert response.status_code == 415


def test_caseworkers_may_not_upload(client: FlaskClient, make: Factories, app: Flask) -> None:
    caseworker = make.actor_headers(Role.CASEWORKER, make.society("IT"))

    assert upload(client, caseworker, samples.PFIF_14).status_code == 403
    assert counts(app)["jobs"] == 0


def test_another_societys_job_does_not_exist_for_you(
    app: Flask, client: FlaskClient, officer: dict[str, str], make: Factories
) -> None:
    accepted = upload(client, officer, samples.PFIF_14)
    stranger = make.actor_headers(Role.TRACING_OFFICER, make.society("DE"))

    response = client.get(f"/api/v1/imports/{accepted.json['id']}", headers=stranger)

    assert response.status_code == 404
    assert ("import.read", "denied", accepted.json["id"]) in audit_actions(app)


class TestTheSizeLimit:
    @pytest.fixture
    def settings(self, database_url: str, session_instance_dir: Any) -> object:
        return make_settings(database_url, session_instance_dir, import_max_bytes=2000)

    def test_a_file_above_the_limit_is_413(
        self, app: Flask, client: FlaskClient, officer: dict[str, str]
    ) -> None:
        too_big = upload(client, officer, samples.PFIF_14 + b" " * 2000)
        small = upload(client, officer, samples.PFIF_12)

        assert too_big.status_code == 413
        assert small.status_code == 202
        assert counts(app)["jobs"] == 1


class TestAnInterruptedUpload:
    @pytest.fixture
    def settings(self, database_url: str, session_instance_dir: Any) -> object:
        return make_settings(database_url, session_instance_dir, import_batch=2)

    def test_is_taken_again_and_imports_each_record_once(
        self,
        app: Flask,
        client: FlaskClient,
        officer: dict[str, str],
        clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # Given an upload whose job dies while creating its fifth record (two batches committed)
        create = records.create_record
        created: list[int] = []

        def dying_create(*args: Any, **kwargs: Any) -> Any:
            created.append(1)
            if len(created) == 5:
                raise RuntimeError("killed")
            return create(*args, **kwargs)

        monkeypatch.setattr(exchange_services.records, "create_record", dying_create)
        fixed = CSV_GOOD.replace("2001-02-30", "2001").replace(",XX,", ",SD,")
        accepted = upload(client, officer, fixed.encode(), format="csv", mapping=json.dumps(CSV_MAPPING))
        interrupted = client.get(f"/api/v1/imports/{accepted.json['id']}", headers=officer).json
        after_kill = counts(app)

        # When the job is taken again once no worker has touched it for a while
        monkeypatch.setattr(exchange_services.records, "create_record", create)
        clock.advance(timedelta(minutes=10))
        with app.app_context():
            ran = drain_imports()
        finished = client.get(f"/api/v1/imports/{accepted.json['id']}", headers=officer).json

        # Then the first run kept its committed batches, and the second added the rest, each once
        assert interrupted["status"] == "running"
        assert after_kill["sightings"] == 4
        assert after_kill["outbox"] >= 1  # the job's message waits to be taken again
        assert ran == 1
        assert finished["status"] == "done"
        assert finished["counts"] == {"total": 5, "imported": 5, "already_present": 0, "rejected": 0}
        assert counts(app)["sightings"] == 5
        assert counts(app)["imported"] == 5

    def test_a_job_still_being_worked_on_is_left_alone(
        self, app: Flask, client: FlaskClient, officer: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Given a job whose run stopped a moment ago (another worker may still be on it)
        def dying_create(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("killed")

        monkeypatch.setattr(exchange_services.records, "create_record", dying_create)
        accepted = upload(client, officer, samples.PFIF_14)
        monkeypatch.undo()

        # When a second delivery comes at once, it leaves the job alone
        with app.app_context():
            drain_imports()

        assert (
            client.get(f"/api/v1/imports/{accepted.json['id']}", headers=officer).json["status"] == "running"
        )
        assert counts(app)["tracing_requests"] == 0
