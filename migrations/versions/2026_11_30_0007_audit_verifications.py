"""Audit verification records: signed notes of how far verification from entry 0 has come.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

Append-only like the other audit tables: on PostgreSQL the trigger of revision 0002 refuses UPDATE,
DELETE and TRUNCATE for every role, and the application role may only SELECT and INSERT.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLE = "audit_verifications"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_verifications")),
    )
    op.create_index(op.f("ix_audit_verifications_recorded_at"), TABLE, ["recorded_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        _protect()


def _app_role() -> str:
    role = os.environ.get("RFL_DB_APP_ROLE", "rfl_app")
    if not role.replace("_", "").isalnum():
        raise ValueError("RFL_DB_APP_ROLE must be a plain identifier")
    return role


def _protect() -> None:
    op.execute(
        f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION rfl_refuse_audit_change()"
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION rfl_refuse_audit_change()"
    )
    role = _app_role()
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                GRANT SELECT, INSERT ON {TABLE} TO {role};
                REVOKE UPDATE, DELETE, TRUNCATE ON {TABLE} FROM {role};
            END IF;
        END $$
        """  # DDL: a constant table list and _app_role(), checked to be a plain identifier  # nosec B608
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_verifications_recorded_at"), table_name=TABLE)
    op.drop_table(TABLE)
