"""One table of rate-limit hits for every limit (failed logins, searches); audit entries about several
objects.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30

This revision never imports the live models.

- ``login_failures`` becomes ``throttle_hits``: one row per hit of one limit (``bucket``) under one
  keyed-hash ``key``. Each failure still in its window becomes two hits (its email's and its client
  address's), so no lock is lifted by the upgrade.
- ``audit_events.object_ids``: the further objects an entry is about (the records one search
  returned), covered by the leaf hash when present; ``audit_event_objects`` says which society owns
  each, so it sees the entry. Append-only like the other audit tables.

Sightings' ``exclude`` entries are not rewritten here (they are sealed with the row): rule 10 compares
them in canonical form, and an edit stores them canonical.
"""

from __future__ import annotations

import os
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "throttle_hits",
        sa.Column("bucket", sa.String(length=32), nullable=False),
        sa.Column("key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_throttle_hits")),
    )
    op.create_index(op.f("ix_throttle_hits_at"), "throttle_hits", ["at"], unique=False)
    op.create_index("ix_throttle_hits_bucket_key_at", "throttle_hits", ["bucket", "key", "at"], unique=False)
    _carry_login_failures_over()
    op.drop_index(op.f("ix_login_failures_failed_at"), table_name="login_failures")
    op.drop_index(op.f("ix_login_failures_email_key"), table_name="login_failures")
    op.drop_index(op.f("ix_login_failures_client_key"), table_name="login_failures")
    op.drop_table("login_failures")

    op.add_column("audit_events", sa.Column("object_ids", sa.JSON(none_as_null=True), nullable=True))
    op.create_table(
        "audit_event_objects",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("society_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("seq", "object_id", name=op.f("pk_audit_event_objects")),
    )
    op.create_index(
        op.f("ix_audit_event_objects_object_id"), "audit_event_objects", ["object_id"], unique=False
    )
    op.create_index(
        "ix_audit_event_objects_society_id_seq", "audit_event_objects", ["society_id", "seq"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        _protect("audit_event_objects")


def _carry_login_failures_over() -> None:
    hits = sa.table(
        "throttle_hits",
        sa.column("id", sa.Uuid()),
        sa.column("bucket", sa.String()),
        sa.column("key", sa.LargeBinary()),
        sa.column("at", sa.DateTime(timezone=True)),
    )
    failures = sa.table(
        "login_failures",
        sa.column("email_key", sa.LargeBinary()),
        sa.column("client_key", sa.LargeBinary()),
        sa.column("failed_at", sa.DateTime(timezone=True)),
    )
    connection = op.get_bind()
    for bucket, column in (("login_email", failures.c.email_key), ("login_client", failures.c.client_key)):
        rows = connection.execute(sa.select(column, failures.c.failed_at)).all()
        if rows:
            connection.execute(
                hits.insert(),
                [{"id": uuid.uuid4(), "bucket": bucket, "key": key, "at": at} for key, at in rows],
            )


def _app_role() -> str:
    role = os.environ.get("RFL_DB_APP_ROLE", "rfl_app")
    if not role.replace("_", "").isalnum():
        raise ValueError("RFL_DB_APP_ROLE must be a plain identifier")
    return role


def _protect(table: str) -> None:
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION rfl_refuse_audit_change()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION rfl_refuse_audit_change()"
    )
    role = _app_role()
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                GRANT SELECT, INSERT ON {table} TO {role};
                REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {role};
            END IF;
        END $$
        """  # DDL: a constant table name and _app_role(), checked to be a plain identifier  # nosec B608
    )


def downgrade() -> None:
    op.drop_index("ix_audit_event_objects_society_id_seq", table_name="audit_event_objects")
    op.drop_index(op.f("ix_audit_event_objects_object_id"), table_name="audit_event_objects")
    op.drop_table("audit_event_objects")
    op.drop_column("audit_events", "object_ids")

    op.create_table(
        "login_failures",
        sa.Column("email_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("client_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_client_key"), "login_failures", ["client_key"], unique=False)
    op.create_index(op.f("ix_login_failures_email_key"), "login_failures", ["email_key"], unique=False)
    op.create_index(op.f("ix_login_failures_failed_at"), "login_failures", ["failed_at"], unique=False)
    # The hits cannot be paired back into failures: logins start unthrottled after a downgrade.
    op.drop_index("ix_throttle_hits_bucket_key_at", table_name="throttle_hits")
    op.drop_index(op.f("ix_throttle_hits_at"), table_name="throttle_hits")
    op.drop_table("throttle_hits")
