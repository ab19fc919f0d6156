"""Consent records and disclosures, append-only like the audit log on PostgreSQL; the internal outcome
of a match.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

Enums are frozen here as literal values; this revision never imports the live models. On PostgreSQL the
application role may only SELECT and INSERT consent records and disclosures, and a trigger refuses
UPDATE, DELETE and TRUNCATE of them for every role (erasure destroys data keys, it edits no row).
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("sighting_id", sa.Uuid(), nullable=False),
        sa.Column("society_id", sa.Uuid(), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column(
            "decision",
            sa.Enum(
                "given",
                "refused",
                "withdrawn",
                name="consent_decision",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                "written",
                "oral",
                "guardian",
                "best_interests",
                name="consent_method",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("guardian_name", sa.LargeBinary(), nullable=True),
        sa.Column("note", sa.LargeBinary(), nullable=True),
        sa.Column("message", sa.LargeBinary(), nullable=True),
        sa.Column("seal", sa.LargeBinary(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sighting_id"], ["sightings.id"], name=op.f("fk_consent_records_sighting_id_sightings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_records_recorded_at"), ["recorded_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_consent_records_society_id"), ["society_id"], unique=False)
        batch_op.create_index(
            "ix_consent_records_subject", ["sighting_id", "recipient", "recorded_at"], unique=False
        )

    op.create_table(
        "disclosures",
        sa.Column("match_candidate_id", sa.Uuid(), nullable=False),
        sa.Column("tracing_request_id", sa.Uuid(), nullable=False),
        sa.Column("sighting_id", sa.Uuid(), nullable=False),
        sa.Column("request_society_id", sa.Uuid(), nullable=False),
        sa.Column("sighting_society_id", sa.Uuid(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "allowed",
                "denied",
                name="disclosure_outcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("consent_id", sa.Uuid(), nullable=True),
        sa.Column("officer_user_id", sa.Uuid(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_candidate_id"],
            ["match_candidates.id"],
            name=op.f("fk_disclosures_match_candidate_id_match_candidates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosures")),
    )
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disclosures_decided_at"), ["decided_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_disclosures_match_candidate_id"), ["match_candidate_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_disclosures_request_society_id"), ["request_society_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_disclosures_sighting_id"), ["sighting_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_disclosures_sighting_society_id"), ["sighting_society_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_disclosures_tracing_request_id"), ["tracing_request_id"], unique=False
        )

    with op.batch_alter_table("match_candidates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "outcome",
                sa.Enum(
                    "located_no_contact",
                    name="match_outcome",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=True,
            )
        )
    if op.get_bind().dialect.name == "postgresql":
        _protect(APPEND_ONLY)


APPEND_ONLY = ("consent_records", "disclosures")


def _app_role() -> str:
    role = os.environ.get("RFL_DB_APP_ROLE", "rfl_app")
    if not role.replace("_", "").isalnum():
        raise ValueError("RFL_DB_APP_ROLE must be a plain identifier")
    return role


def _protect(tables: tuple[str, ...]) -> None:
    op.execute(
        """
        CREATE FUNCTION rfl_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'this table is append-only (% on %)', TG_OP, TG_TABLE_NAME;
        END $$
        """
    )
    for table in tables:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION rfl_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION rfl_refuse_change()"
        )
    role = _app_role()
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                REVOKE UPDATE, DELETE, TRUNCATE ON {", ".join(tables)} FROM {role};
            END IF;
        END $$
        """  # DDL: a constant table list and _app_role(), checked to be a plain identifier  # nosec B608
    )


def downgrade() -> None:
    with op.batch_alter_table("match_candidates", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_match_candidates_match_outcome"), type_="check")
        batch_op.drop_column("outcome")

    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disclosures_tracing_request_id"))
        batch_op.drop_index(batch_op.f("ix_disclosures_sighting_society_id"))
        batch_op.drop_index(batch_op.f("ix_disclosures_sighting_id"))
        batch_op.drop_index(batch_op.f("ix_disclosures_request_society_id"))
        batch_op.drop_index(batch_op.f("ix_disclosures_match_candidate_id"))
        batch_op.drop_index(batch_op.f("ix_disclosures_decided_at"))

    op.drop_table("disclosures")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_records_subject")
        batch_op.drop_index(batch_op.f("ix_consent_records_society_id"))
        batch_op.drop_index(batch_op.f("ix_consent_records_recorded_at"))

    op.drop_table("consent_records")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION rfl_refuse_change()")
