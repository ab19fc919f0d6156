"""Audit log: events (Merkle leaves) and signed checkpoints, append-only on PostgreSQL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE of the audit tables for every role, and the
application role (RFL_DB_APP_ROLE, default rfl_app, when it exists) may only SELECT and INSERT them,
while it keeps full DML on the other tables. Migrations run as the owner role.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column(
            "tree_size",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("compact_range", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "audit_events",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_society_id", sa.Uuid(), nullable=True),
        sa.Column("owner_society_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_events_id")),
    )
    op.create_index(op.f("ix_audit_events_action"), "audit_events", ["action"], unique=False)
    op.create_index(op.f("ix_audit_events_actor_user_id"), "audit_events", ["actor_user_id"], unique=False)
    op.create_index(op.f("ix_audit_events_object_id"), "audit_events", ["object_id"], unique=False)
    op.create_index(op.f("ix_audit_events_occurred_at"), "audit_events", ["occurred_at"], unique=False)
    op.create_index(
        op.f("ix_audit_events_owner_society_id"), "audit_events", ["owner_society_id"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        _protect_audit_tables()


AUDIT_TABLES = ("audit_events", "audit_checkpoints")


def _app_role() -> str:
    role = os.environ.get("RFL_DB_APP_ROLE", "rfl_app")
    if not role.replace("_", "").isalnum():
        raise ValueError("RFL_DB_APP_ROLE must be a plain identifier")
    return role


def _protect_audit_tables() -> None:
    op.execute(
        """
        CREATE FUNCTION rfl_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only (% on %)', TG_OP, TG_TABLE_NAME;
        END $$
        """
    )
    for table in AUDIT_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION rfl_refuse_audit_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION rfl_refuse_audit_change()"
        )
    role = _app_role()
    audit_tables = ", ".join(AUDIT_TABLES)
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                GRANT USAGE ON SCHEMA public TO {role};
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
                ALTER DEFAULT PRIVILEGES IN SCHEMA public
                    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};
                REVOKE UPDATE, DELETE, TRUNCATE ON {audit_tables} FROM {role};
            END IF;
        END $$
        """  # DDL: a constant table list and _app_role(), checked to be a plain identifier  # nosec B608
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        role = _app_role()
        op.execute(
            f"""
            DO $$
            BEGIN
                IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                    ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {role};
                    REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role};
                END IF;
            END $$
            """  # DDL: a constant table list and _app_role(), checked to be a plain identifier  # nosec B608
        )
    op.drop_index(op.f("ix_audit_events_owner_society_id"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_occurred_at"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_object_id"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_actor_user_id"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_action"), table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("audit_checkpoints")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION rfl_refuse_audit_change()")
