"""Helpers to fill and to tamper with the audit log directly in the database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import pytest
import sqlalchemy as sa
from flask import Flask

from rfl.audit import services
from rfl.audit.entries import Action, AuditEntry
from rfl.audit.recorder import append_entries
from rfl.audit.services import Verification
from rfl.db import UTCDateTime, db
from rfl.extensions import app_services


def fill_log(app: Flask, count: int, owner: uuid.UUID | None = None) -> None:
    """Append ``count`` entries about sightings of society ``owner``."""
    with app.app_context(), db.transaction() as session:
        entries = [
            AuditEntry(
                action=Action.SIGHTING_READ,
                owner_society_id=owner,
                object_type="sighting",
                object_id=f"obj-{n}",
                fields=("given_name",),
            )
            for n in range(count)
        ]
        append_entries(session, entries)


def sign_checkpoint(app: Flask) -> str:
    with app.app_context(), db.transaction() as session:
        checkpoint = services.sign_current_checkpoint(
            session,
            app_services(app).audit_signer,
            origin=app_services(app).settings.checkpoint_origin,
            now=app_services(app).clock(),
        )
        return checkpoint.note


def verify(app: Flask, against: str | None = None) -> Verification:
    with app.app_context(), db.transaction() as session:
        return services.verify_log(
            session,
            app_services(app).audit_signer.verifier(),
            origin=app_services(app).settings.checkpoint_origin,
            against=against,
        )


def _typed(name: str, value: object) -> sa.BindParameter[object]:
    """Bind values with the column types the application uses (dialects store them differently)."""
    if isinstance(value, uuid.UUID):
        return sa.bindparam(name, value, type_=sa.Uuid)
    if isinstance(value, datetime):
        return sa.bindparam(name, value, type_=UTCDateTime)
    if isinstance(value, list):
        return sa.bindparam(name, value, type_=sa.JSON)
    return sa.bindparam(name, value)


@pytest.fixture
def tamper(app: Flask) -> Callable[..., None]:
    """Run SQL as an attacker with full control of the database (triggers bypassed on PostgreSQL)."""

    def run(sql: str, **params: object) -> None:
        statement = sa.text(sql).bindparams(*(_typed(name, value) for name, value in params.items()))
        with app.app_context(), db.transaction() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(sa.text("SET LOCAL session_replication_role = replica"))
            session.execute(statement)

    return run
