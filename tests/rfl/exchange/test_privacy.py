"""Marker test of imports: personal values of imported and rejected records never reach the import
report, the command's output, the logs, the audit log or any table in plaintext."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rfl import create_app, migrate
from rfl.accounts.models import Role
from rfl.db import db
from rfl.logs import configure_logging
from tests.conftest import Factories, FakeClock, make_settings
from tests.rfl.exchange.conftest import invoke, write
from tests.rfl.records.test_storage import database_dump

MARK = "QXMARK"

PFIF = f"""<?xml version="1.0" encoding="UTF-8"?>
<pfif xmlns="http://zesty.ca/pfif/1.4">
  <person>
    <person_record_id>marked.example.org/{MARK}id1</person_record_id>
    <author_name>{MARK}author</author_name>
    <author_phone>{MARK}authorphone</author_phone>
    <full_name>{MARK}full</full_name>
    <given_name>{MARK}given</given_name>
    <family_name>{MARK}family</family_name>
    <alternate_names>{MARK}alias</alternate_names>
    <description>{MARK}description</description>
    <home_city>{MARK}city</home_city>
    <note>
      <note_record_id>marked.example.org/{MARK}n1</note_record_id>
      <status>information_sought</status>
      <last_known_location>{MARK}lastseen</last_known_location>
      <text>{MARK}text</text>
    </note>
  </person>
  <person>
    <person_record_id>marked.example.org/{MARK}id2</person_record_id>
    <given_name>{MARK}sgiven</given_name>
    <date_of_birth>{MARK}birth</date_of_birth>
    <age>{MARK}age</age>
    <sex>{MARK}sex</sex>
    <note>
      <note_record_id>marked.example.org/{MARK}n2</note_record_id>
      <source_date>2024-01-31T10:00:00Z</source_date>
      <status>believed_alive</status>
      <email_of_found_person>{MARK}@bad</email_of_found_person>
      <phone_of_found_person>{MARK}phone</phone_of_found_person>
    </note>
  </person>
</pfif>
""".encode()

CSV = f"""id,name,email,born
{MARK}r1,{MARK}cname,{MARK}not-an-email,{MARK}born
{MARK}r2,{MARK}cname2,,1990
"""
MAPPING = {
    "record_type": "tracing_request",
    "source_domain": "marked.example.org",
    "source_id_column": "id",
    "columns": {
        "name": "sought_person.full_name",
        "email": "enquirer.email",
        "born": "sought_person.birth_date",
    },
    "values": {"enquirer.full_name": "The hotspot"},
}


def test_no_personal_value_in_reports_output_logs_audit_or_tables(
    throwaway_database_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    migrate.upgrade(throwaway_database_url)
    app = create_app(make_settings(throwaway_database_url, tmp_path), clock=clock)
    log = io.StringIO()
    configure_logging("DEBUG", stream=log)
    make = Factories(app, clock)
    italy = make.society("IT")
    make.user(Role.TRACING_OFFICER, society=italy, email="officer@it.example.org")
    officer = make.actor_headers(Role.TRACING_OFFICER, italy)
    client = app.test_client()
    options = ("--society", "IT", "--user", "officer@it.example.org", "--legal-basis", "vital_interest")

    outputs = [
        invoke(app, "import", "pfif", write(tmp_path, "marked.xml", PFIF), *options),
        invoke(
            app,
            "import",
            "csv",
            write(tmp_path, "marked.csv", CSV),
            "--mapping",
            write(tmp_path, "mapping.json", json.dumps(MAPPING)),
            *options,
        ),
    ]
    uploaded = client.post(
        "/api/v1/imports",
        headers=officer,
        data={
            "format": "csv",
            "legal_basis": "vital_interest",
            "mapping": json.dumps(MAPPING | {"source_domain": "other.example.org"}),
            "file": (io.BytesIO(CSV.encode()), "marked.csv"),
        },
        content_type="multipart/form-data",
    )
    uploaded.close()
    job = client.get(f"/api/v1/imports/{uploaded.json['id']}", headers=officer)
    exported = client.get("/api/v1/exports?format=csv", headers=officer)
    auditor = make.actor_headers(Role.AUDITOR, italy)
    audit_dump = json.dumps(client.get("/api/v1/audit/events?limit=200", headers=auditor).json)
    db.engine_of(app).dispose()

    # Something was imported and something rejected, so the report had values to leak
    assert "1 imported" in outputs[0].output
    assert job.json["counts"]["rejected"] == 1
    assert job.json["counts"]["imported"] == 1
    assert MARK in exported.get_data(as_text=True)  # the export is the one place names leave, on purpose
    places = {
        "pfif output": outputs[0].output + outputs[0].stderr,
        "csv output": outputs[1].output + outputs[1].stderr,
        "job": job.get_data(as_text=True),
        "log": log.getvalue(),
        "audit": audit_dump,
        "database": database_dump(throwaway_database_url),
    }
    for place, text in places.items():
        assert MARK not in text, place
        assert MARK.lower() not in text, place
