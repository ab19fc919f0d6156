"""Helpers to fill and to tamper with the audit log directly in the database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask import Flask

from privacy import CompactRange
from rfl.audit import log, verification
from rfl.audit.entries import Action, AuditEntry
from rfl.audit.models import AuditEvent
from rfl.audit.recorder import append_entries
from rfl.audit.verification import Verification
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
        checkpoint = log.sign_current_checkpoint(
            session,
            app_services(app).audit_signer,
            origin=app_services(app).settings.checkpoint_origin,
            now=app_services(app).clock(),
        )
        return checkpoint.note


def verify(app: Flask, against: str | None = None) -> Verification:
    """One full pass of the CLI's verification (nothing recorded)."""
    with app.app_context(), db.transaction(read_only=True) as session:
        return verification.verify_log(
            session,
            app_services(app).audit_signer.verifier(),
            origin=app_services(app).settings.checkpoint_origin,
            now=app_services(app).clock(),
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


def stored_leaves(app: Flask) -> list[bytes]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.leaf_hash).order_by(AuditEvent.seq)))


def forge_checkpoint(
    tamper: Callable[..., None],
    *,
    tree_size: int,
    note: str,
    root: bytes,
    compact: CompactRange | None,
) -> None:
    """Insert a checkpoint row as the application role could: every column chosen by the attacker."""
    tamper(
        "INSERT INTO audit_checkpoints (tree_size, root_hash, note, created_at, compact_range) "
        "VALUES (:size, :root, :note, :at, :compact)",
        size=tree_size,
        root=root,
        note=note,
        at=datetime(2026, 11, 28, tzinfo=UTC),
        compact=None if compact is None else compact.to_bytes(),
    )


def random_compact_range(size: int) -> CompactRange:
    """A well-formed compact range of ``size`` that belongs to no real tree (it hashes to its own root)."""
    return CompactRange(size, [os.urandom(32) for _ in range(size.bit_count())])
