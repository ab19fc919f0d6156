"""What is stored: no personal data in any table, log or audit entry; moved ciphertexts are refused."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from rfl import create_app, migrate
from rfl.accounts.models import Role
from rfl.db import db
from rfl.logs import configure_logging
from tests.conftest import Factories, FakeClock, make_settings

MARK = "QXMARK"


def marked_tracing_request() -> dict[str, Any]:
    """Every personal field holds a unique marker string (dates, ages and codes cannot, see below)."""
    return {
        "sought_person": {
            "given_name": f"{MARK}given",
            "family_name": f"{MARK}family",
            "full_name": f"{MARK}full",
            "alternate_names": [f"{MARK}alias"],
            "sex": "F",
            "birth_date": "1987-03-14",
            "age": 37,
            "birth_place": f"{MARK}birthplace",
            "nationality": "ER",
            "father_name": f"{MARK}father",
            "mother_name": f"{MARK}mother",
            "languages": [f"{MARK}lang"],
            "distinguishing_marks": f"{MARK}marks",
            "document_id": f"{MARK}doc",
            "phone": f"{MARK}phone",
        },
        "enquirer": {
            "full_name": f"{MARK}enquirer",
            "relationship": f"{MARK}relationship",
            "phone": f"{MARK}enqphone",
            "email": f"{MARK.lower()}@example.org",
            "address": f"{MARK}address",
        },
        "separation": {
            "date": "2019-07",
            "place": f"{MARK}sepplace",
            "circumstances": f"{MARK}circumstances",
            "last_known_place": f"{MARK}lastknown",
            "route": f"{MARK}route",
        },
        "message": f"{MARK}message",
        "legal_basis": "vital_interest",
    }


def marked_sighting() -> dict[str, Any]:
    return {
        "person": {
            "given_name": f"{MARK}sgiven",
            "family_name": f"{MARK}sfamily",
            "father_name": f"{MARK}sfather",
            "distinguishing_marks": f"{MARK}smarks",
            "birth_date": "1987-03-14",
        },
        "registration": {"date": "2024-01-31", "place": f"{MARK}regplace", "country": "IT"},
        "condition": "detained",
        "whereabouts": {
            "current_place": f"{MARK}current",
            "address": f"{MARK}waddress",
            "phone": f"{MARK}wphone",
            "email": f"{MARK.lower()}w@example.org",
        },
        "seeking_family": True,
        "legal_basis": "vital_interest",
    }


# Values that are not free text: they are encrypted like the rest, and checked as exact strings.
STRUCTURED_VALUES = ("1987-03-14", "2024-01-31", "2019-07")


def database_dump(url: str) -> str:
    """Everything the database holds, as an operator's dump tool would show it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        with sqlite3.connect(path) as connection:
            dump = "\n".join(connection.iterdump())
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        return dump + raw.decode("latin-1")
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed for the PostgreSQL dump"
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    return subprocess.run([pg_dump, "--data-only", dsn], check=True, capture_output=True, text=True).stdout


def test_no_personal_data_in_any_table_log_or_audit_entry(
    throwaway_database_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    migrate.upgrade(throwaway_database_url)
    app = create_app(make_settings(throwaway_database_url, tmp_path), clock=clock)
    log = io.StringIO()
    configure_logging("DEBUG", stream=log)
    make = Factories(app, clock)
    client = app.test_client()
    headers = make.actor_headers(Role.CASEWORKER, make.society("IT"))

    request_id = client.post("/api/v1/tracing-requests", headers=headers, json=marked_tracing_request()).json[
        "id"
    ]
    created_sighting = client.post("/api/v1/sightings", headers=headers, json=marked_sighting())
    sighting_id = created_sighting.json["id"]
    client.get(f"/api/v1/tracing-requests/{request_id}", headers=headers)
    patched = client.patch(
        f"/api/v1/sightings/{sighting_id}",
        headers=headers
        | {"Content-Type": "application/merge-patch+json", "If-Match": created_sighting.headers["ETag"]},
        json={"whereabouts": {"current_place": f"{MARK}moved"}},
    )
    assert patched.status_code == 200
    client.post("/api/v1/sightings/search", headers=headers, json={"q": f"{MARK}sgiven"})
    client.post("/api/v1/sightings", headers=headers, json=marked_sighting() | {"condition": f"{MARK}bad"})
    auditor = make.actor_headers(Role.AUDITOR)
    audit_dump = json.dumps(client.get("/api/v1/audit/events?limit=200", headers=auditor).json)
    db.engine_of(app).dispose()

    dump = database_dump(throwaway_database_url)
    assert "@example.org" in dump  # the dump holds row data (staff emails are not encrypted)
    for place, text in {"database": dump, "log": log.getvalue(), "audit": audit_dump}.items():
        assert MARK not in text, place
        assert MARK.lower() not in text, place
        for value in STRUCTURED_VALUES:
            assert value not in text, (place, value)


def test_swapped_ciphertexts_are_refused_not_misread(
    app: Flask, client: FlaskClient, make: Factories
) -> None:
    headers = make.actor_headers(Role.CASEWORKER)
    first = client.post("/api/v1/sightings", headers=headers, json=marked_sighting()).json["id"]
    second_body = marked_sighting()
    second_body["person"]["given_name"] = "Other"
    second = client.post("/api/v1/sightings", headers=headers, json=second_body).json["id"]
    with app.app_context(), db.transaction() as session:
        rows = {
            row.id: row.person_given_name
            for row in session.execute(sa.text("SELECT id, person_given_name FROM sightings")).mappings()
        }
        (a, token_a), (b, token_b) = list(rows.items())[-2:]
        session.execute(
            sa.text("UPDATE sightings SET person_given_name = :t WHERE id = :i"), {"t": token_b, "i": a}
        )
        session.execute(
            sa.text("UPDATE sightings SET person_given_name = :t WHERE id = :i"), {"t": token_a, "i": b}
        )

    for record_id in (first, second):
        response = client.get(f"/api/v1/sightings/{record_id}", headers=headers)
        assert response.status_code == 500
        assert response.json["type"] == "urn:rfl:problem:integrity-failure"
        assert "Other" not in response.get_data(as_text=True)
        assert MARK not in response.get_data(as_text=True)


@pytest.mark.parametrize("column", ["person_given_name", "whereabouts_phone"])
def test_a_flipped_bit_is_refused(app: Flask, client: FlaskClient, make: Factories, column: str) -> None:
    headers = make.actor_headers(Role.CASEWORKER)
    record_id = client.post("/api/v1/sightings", headers=headers, json=marked_sighting()).json["id"]
    table = sa.table("sightings", sa.column("id", sa.Uuid), sa.column(column, sa.LargeBinary))
    row = table.c.id == uuid.UUID(record_id)
    with app.app_context(), db.transaction() as session:
        token = bytearray(session.execute(sa.select(table.c[column]).where(row)).scalar_one())
        token[-1] ^= 1
        session.execute(sa.update(table).where(row).values({column: bytes(token)}))

    assert client.get(f"/api/v1/sightings/{record_id}", headers=headers).status_code == 500
