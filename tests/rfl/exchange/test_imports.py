"""`rfl import pfif|csv`: every record validated by the API's rules, reported by position and field,
imported once however often the file comes (or the import is killed and run again), each record
created, audited and queued for matching exactly as over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from rfl.db import db
from rfl.exchange import services as exchange_services
from rfl.exchange.models import ImportedRecord, ImportJob, ImportStatus
from rfl.records import services as records
from rfl.records.models import LegalBasis, Sighting, TracingRequest
from tests.conftest import make_settings
from tests.rfl.exchange import samples
from tests.rfl.exchange.conftest import CSV_GOOD, audit_actions, counts, invoke, mapping_file, write

IMPORT = ("--society", "IT", "--user", "officer@it.example.org", "--legal-basis", "public_interest")


def test_a_pfif_file_becomes_records_audited_and_proposed_for(
    app: Flask, officer_email: str, tmp_path: Path
) -> None:
    # Given a PFIF 1.4 file with one person sought and one found
    path = write(tmp_path, "list.xml", samples.PFIF_14)

    # When an officer imports it
    result = invoke(app, "import", "pfif", path, *IMPORT)

    # Then one tracing request and one sighting exist, under the legal basis given,
    assert result.exit_code == 0, result.output
    assert "2 records, 2 imported, 0 already present, 0 rejected" in result.output
    assert counts(app) | {"outbox": 0} == {
        "tracing_requests": 1,
        "sightings": 1,
        "imported": 2,
        "jobs": 1,
        "outbox": 0,
    }
    with app.app_context():
        assert {r.legal_basis for r in db.session.scalars(sa.select(TracingRequest))} == {
            LegalBasis.PUBLIC_INTEREST
        }
        job = db.session.scalars(sa.select(ImportJob)).one()
        assert job.status is ImportStatus.DONE
        keys = [row.source_key for row in db.session.scalars(sa.select(ImportedRecord))]
    # the source ids are kept as keyed hashes only,
    assert all(len(key) == 32 and b"registry.example.org" not in key for key in keys)
    # each record's creation is audited like one over HTTP, and matching ran for both (outbox drained)
    actions = [action for action, _, _ in audit_actions(app)]
    assert actions.count("tracing_request.create") == 1
    assert actions.count("sighting.create") == 1
    assert actions.count("match.propose") == 2
    assert actions[0] == "import.start"
    assert "import.finish" in actions
    assert counts(app)["outbox"] == 0


@pytest.mark.parametrize(
    "document", [samples.PFIF_11, samples.PFIF_12, samples.PFIF_13], ids=["1.1", "1.2", "1.3"]
)
def test_every_pfif_version_imports(app: Flask, officer_email: str, tmp_path: Path, document: bytes) -> None:
    result = invoke(app, "import", "pfif", write(tmp_path, "old.xml", document), *IMPORT)

    assert result.exit_code == 0, result.output
    assert "1 records, 1 imported" in result.output


def test_importing_the_same_file_again_changes_nothing(
    app: Flask, officer_email: str, tmp_path: Path
) -> None:
    path = write(tmp_path, "list.xml", samples.PFIF_14)
    invoke(app, "import", "pfif", path, *IMPORT)
    before = counts(app)

    again = invoke(app, "import", "pfif", path, *IMPORT)

    assert again.exit_code == 0, again.output
    assert "2 records, 0 imported, 2 already present" in again.output
    assert counts(app) == before | {"jobs": 2}


@pytest.mark.parametrize(
    "document",
    [samples.BILLION_LAUGHS, samples.WITH_DTD, samples.MALFORMED, samples.WRONG_NAMESPACE],
    ids=["billion-laughs", "dtd", "malformed", "wrong-namespace"],
)
def test_a_refused_file_imports_nothing_and_says_why(
    app: Flask, officer_email: str, tmp_path: Path, document: bytes
) -> None:
    result = invoke(app, "import", "pfif", write(tmp_path, "bad.xml", document), *IMPORT)

    assert result.exit_code == 1
    assert "rejected at 0: file:" in result.stderr
    assert counts(app) | {"jobs": 0} == {
        "tracing_requests": 0,
        "sightings": 0,
        "imported": 0,
        "jobs": 0,
        "outbox": 0,
    }
    assert ("import.finish", "failed") in [(a, o) for a, o, _ in audit_actions(app)]


def test_the_legal_basis_is_required(app: Flask, officer_email: str, tmp_path: Path) -> None:
    path = write(tmp_path, "list.xml", samples.PFIF_14)

    result = invoke(app, "import", "pfif", path, "--society", "IT", "--user", officer_email)

    assert result.exit_code == 2
    assert "--legal-basis" in result.output
    assert counts(app)["jobs"] == 0


def test_only_caseworkers_and_officers_of_the_society_import(
    app: Flask, make: object, tmp_path: Path, officer_email: str
) -> None:
    from rfl.accounts.models import Role

    auditor = make.user(Role.AUDITOR, society=None, email="auditor@it.example.org")  # type: ignore[attr-defined]
    path = write(tmp_path, "list.xml", samples.PFIF_14)

    other_society = invoke(app, "import", "pfif", path, *IMPORT[:2], "--user", auditor.email, *IMPORT[4:])

    assert other_society.exit_code == 1
    assert counts(app)["jobs"] == 0


def test_csv_valid_only_imports_the_valid_rows_and_reports_the_others(
    app: Flask, officer_email: str, tmp_path: Path
) -> None:
    csv_path = write(tmp_path, "list.csv", CSV_GOOD)

    result = invoke(app, "import", "csv", csv_path, "--mapping", mapping_file(tmp_path), *IMPORT)

    # Rows 4 (an impossible date) and 5 (an unknown country) are rejected by the API's own rules
    assert result.exit_code == 0, result.output
    assert "5 records, 3 imported, 0 already present, 2 rejected" in result.output
    assert "rejected at 4: person.birth_date: Must be YYYY, YYYY-MM or YYYY-MM-DD" in result.stderr
    assert "rejected at 5: person.nationality: Must be an ISO 3166-1 alpha-2" in result.stderr
    assert counts(app)["sightings"] == 3
    with app.app_context():
        job = db.session.scalars(sa.select(ImportJob)).one()
        assert [(p["position"], p["field"]) for p in job.report] == [
            (4, "person.birth_date"),
            (5, "person.nationality"),
        ]
        crypto = app.extensions["rfl"].crypto(db.session)
        persons = [
            records.read_identity(crypto, records.SIGHTINGS, sighting)
            for sighting in db.session.scalars(sa.select(Sighting))
        ]
    # lists are split on the mapping's separator; empty cells are left out
    yonas = next(person for person in persons if person["given_name"] == "Yonas")
    assert yonas["alternate_names"] == ["Yonas T.", "Jonas"]
    assert yonas["birth_date"] == "1999"
    assert "age" not in yonas
    assert next(person for person in persons if person["given_name"] == "Saba")["age"] == 24


def test_csv_all_or_nothing_imports_nothing_when_a_row_is_rejected(
    app: Flask, officer_email: str, tmp_path: Path
) -> None:
    csv_path = write(tmp_path, "list.csv", CSV_GOOD)

    result = invoke(
        app,
        "import",
        "csv",
        csv_path,
        "--mapping",
        mapping_file(tmp_path),
        *IMPORT,
        "--mode",
        "all_or_nothing",
    )

    assert result.exit_code == 1
    assert "5 records, 0 imported, 0 already present, 2 rejected" in result.output
    assert counts(app)["sightings"] == 0


def test_a_csv_mapping_naming_an_unknown_field_or_column_is_refused(
    app: Flask, officer_email: str, tmp_path: Path
) -> None:
    csv_path = write(tmp_path, "list.csv", CSV_GOOD)
    unknown_field = {**CSV_MAPPING_COPY(), "columns": {"Given name": "person.favourite_colour"}}
    unknown_column = {**CSV_MAPPING_COPY(), "columns": {"First": "person.given_name"}}

    bad_field = invoke(
        app, "import", "csv", csv_path, "--mapping", mapping_file(tmp_path, unknown_field), *IMPORT
    )
    bad_column = invoke(
        app, "import", "csv", csv_path, "--mapping", mapping_file(tmp_path, unknown_column), *IMPORT
    )

    assert "Unknown sighting field: person.favourite_colour" in bad_field.output
    assert "Not in the file's header: First" in bad_column.stderr + bad_column.output
    assert counts(app)["sightings"] == 0


def CSV_MAPPING_COPY() -> dict[str, object]:  # noqa: N802
    from tests.rfl.exchange.conftest import CSV_MAPPING

    return dict(CSV_MAPPING)


class TestAKilledImport:
    @pytest.fixture
    def settings(self, database_url: str, session_instance_dir: Path) -> object:
        return make_settings(database_url, session_instance_dir, import_batch=2)

    def test_run_again_imports_each_record_once(
        self, app: Flask, officer_email: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Given an import of five rows in batches of two that dies while creating the fifth record
        csv_path = write(tmp_path, "list.csv", CSV_GOOD.replace("2001-02-30", "2001").replace(",XX,", ",SD,"))
        create = records.create_record
        created: list[object] = []

        def dying_create(*args: object, **kwargs: object) -> object:
            created.append(1)
            if len(created) == 5:
                raise RuntimeError("killed")
            return create(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(exchange_services.records, "create_record", dying_create)
        killed = invoke(app, "import", "csv", csv_path, "--mapping", mapping_file(tmp_path), *IMPORT)
        after_kill = counts(app)["sightings"]

        # When it is run again
        monkeypatch.setattr(exchange_services.records, "create_record", create)
        again = invoke(app, "import", "csv", csv_path, "--mapping", mapping_file(tmp_path), *IMPORT)

        # Then the kill kept the two committed batches, and the re-run added only the fifth record
        assert isinstance(killed.exception, RuntimeError)
        assert after_kill == 4
        assert again.exit_code == 0, again.output
        assert "5 records, 1 imported, 4 already present" in again.output
        assert counts(app)["sightings"] == 5
        assert counts(app)["imported"] == 5
