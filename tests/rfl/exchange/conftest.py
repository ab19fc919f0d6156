"""Helpers of the exchange tests: run the commands, count what an import left."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask

from rfl.audit.models import AuditEvent
from rfl.cli import main
from rfl.db import db
from rfl.exchange.models import ImportedRecord, ImportJob
from rfl.outbox.models import OutboxMessage
from rfl.records.models import Sighting, TracingRequest

CSV_MAPPING: dict[str, Any] = {
    "record_type": "sighting",
    "source_domain": "hotspot.example.org",
    "source_id_column": "Reg no",
    "columns": {
        "Given name": "person.given_name",
        "Surname": "person.family_name",
        "Sex": "person.sex",
        "Born": "person.birth_date",
        "Age": "person.age",
        "Nationality": "person.nationality",
        "Other names": "person.alternate_names",
        "Registered": "registration.date",
    },
    "values": {"condition": "alive", "registration.country": "IT", "registration.place": "Hotspot"},
}
CSV_GOOD = """Reg no,Given name,Surname,Sex,Born,Age,Nationality,Other names,Registered
R-1,Yonas,Tesfamariam,M,1999,,ER,Yonas T.;Jonas,2024-03-01
R-2,Saba,Kidane,F,,24,ER,,2024-03-01
R-3,Ali,Hassan,M,2001-02-30,,SD,,2024-03-02
R-4,Mariam,Osman,F,2005,,XX,,2024-03-02
R-5,Abdi,Warsame,M,1990,,SO,,2024-03-03
"""


def invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(main, list(args))


def write(tmp_path: Path, name: str, data: bytes | str) -> str:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return str(path)


def mapping_file(tmp_path: Path, mapping: dict[str, Any] | None = None) -> str:
    return write(tmp_path, "mapping.json", json.dumps(mapping or CSV_MAPPING))


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        session = db.session
        return {
            "tracing_requests": session.scalar(sa.select(sa.func.count()).select_from(TracingRequest)) or 0,
            "sightings": session.scalar(sa.select(sa.func.count()).select_from(Sighting)) or 0,
            "imported": session.scalar(sa.select(sa.func.count()).select_from(ImportedRecord)) or 0,
            "jobs": session.scalar(sa.select(sa.func.count()).select_from(ImportJob)) or 0,
            "outbox": session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) or 0,
        }


def audit_actions(app: Flask) -> list[tuple[str, str, str | None]]:
    """(action, outcome, object id) of every audit entry, in log order."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.outcome, AuditEvent.object_id).order_by(AuditEvent.seq)
        )
        return [(row[0], row[1], row[2]) for row in rows]


@pytest.fixture
def officer_email(make: Any) -> str:
    from rfl.accounts.models import Role

    society = make.society("IT")
    return make.user(Role.TRACING_OFFICER, society=society, email="officer@it.example.org").email
