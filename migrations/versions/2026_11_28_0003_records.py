"""Records: tracing requests and sightings (personal fields as ciphertext), data keys, blind-index
rows and edit history.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "blind_index_entries",
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("society_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("index_name", sa.String(length=32), nullable=False),
        sa.Column("index_version", sa.Integer(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("value", sa.LargeBinary(length=32), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blind_index_entries")),
    )
    op.create_index(
        op.f("ix_blind_index_entries_record_id"), "blind_index_entries", ["record_id"], unique=False
    )
    op.create_index(
        op.f("ix_blind_index_entries_subject_id"), "blind_index_entries", ["subject_id"], unique=False
    )
    op.create_index(
        "ix_blind_index_lookup", "blind_index_entries", ["index_name", "index_version", "value"], unique=False
    )
    op.create_table(
        "data_keys",
        sa.Column("ring_id", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("dek_version", sa.Integer(), nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("ring_id", "subject_id", "dek_version", name=op.f("pk_data_keys")),
    )
    op.create_index(op.f("ix_data_keys_kek_version"), "data_keys", ["kek_version"], unique=False)
    op.create_table(
        "record_edits",
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=False),
        sa.Column("changed_fields", sa.JSON(), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_edits")),
    )
    op.create_index(op.f("ix_record_edits_record_id"), "record_edits", ["record_id"], unique=False)
    op.create_table(
        "sightings",
        sa.Column("found_subject_id", sa.Uuid(), nullable=False),
        sa.Column("deceased", sa.Boolean(), nullable=False),
        sa.Column("no_cross_border", sa.Boolean(), nullable=False),
        sa.Column("exclude", sa.JSON(), nullable=False),
        sa.Column("person_given_name", sa.LargeBinary(), nullable=True),
        sa.Column("person_family_name", sa.LargeBinary(), nullable=True),
        sa.Column("person_full_name", sa.LargeBinary(), nullable=True),
        sa.Column("person_alternate_names", sa.LargeBinary(), nullable=True),
        sa.Column("person_sex", sa.LargeBinary(), nullable=True),
        sa.Column("person_birth_date", sa.LargeBinary(), nullable=True),
        sa.Column("person_age", sa.LargeBinary(), nullable=True),
        sa.Column("person_birth_place", sa.LargeBinary(), nullable=True),
        sa.Column("person_nationality", sa.LargeBinary(), nullable=True),
        sa.Column("person_father_name", sa.LargeBinary(), nullable=True),
        sa.Column("person_mother_name", sa.LargeBinary(), nullable=True),
        sa.Column("person_languages", sa.LargeBinary(), nullable=True),
        sa.Column("person_distinguishing_marks", sa.LargeBinary(), nullable=True),
        sa.Column("person_document_id", sa.LargeBinary(), nullable=True),
        sa.Column("person_phone", sa.LargeBinary(), nullable=True),
        sa.Column("registration_date", sa.LargeBinary(), nullable=True),
        sa.Column("registration_place", sa.LargeBinary(), nullable=True),
        sa.Column("registration_country", sa.LargeBinary(), nullable=True),
        sa.Column("whereabouts_current_place", sa.LargeBinary(), nullable=True),
        sa.Column("whereabouts_address", sa.LargeBinary(), nullable=True),
        sa.Column("whereabouts_phone", sa.LargeBinary(), nullable=True),
        sa.Column("whereabouts_email", sa.LargeBinary(), nullable=True),
        sa.Column("condition", sa.LargeBinary(), nullable=True),
        sa.Column("seeking_family", sa.LargeBinary(), nullable=True),
        sa.Column("society_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open", "closed", name="record_status", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column(
            "legal_basis",
            sa.Enum(
                "vital_interest",
                "consent",
                "public_interest",
                "legitimate_interest",
                name="legal_basis",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("flagged_minor", sa.Boolean(), nullable=False),
        sa.Column("minor", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_sightings_created_by_users")),
        sa.ForeignKeyConstraint(
            ["society_id"], ["societies.id"], name=op.f("fk_sightings_society_id_societies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings")),
    )
    op.create_index(op.f("ix_sightings_society_id"), "sightings", ["society_id"], unique=False)
    op.create_index(op.f("ix_sightings_status"), "sightings", ["status"], unique=False)
    op.create_table(
        "tracing_requests",
        sa.Column("sought_subject_id", sa.Uuid(), nullable=False),
        sa.Column("enquirer_subject_id", sa.Uuid(), nullable=False),
        sa.Column("sought_given_name", sa.LargeBinary(), nullable=True),
        sa.Column("sought_family_name", sa.LargeBinary(), nullable=True),
        sa.Column("sought_full_name", sa.LargeBinary(), nullable=True),
        sa.Column("sought_alternate_names", sa.LargeBinary(), nullable=True),
        sa.Column("sought_sex", sa.LargeBinary(), nullable=True),
        sa.Column("sought_birth_date", sa.LargeBinary(), nullable=True),
        sa.Column("sought_age", sa.LargeBinary(), nullable=True),
        sa.Column("sought_birth_place", sa.LargeBinary(), nullable=True),
        sa.Column("sought_nationality", sa.LargeBinary(), nullable=True),
        sa.Column("sought_father_name", sa.LargeBinary(), nullable=True),
        sa.Column("sought_mother_name", sa.LargeBinary(), nullable=True),
        sa.Column("sought_languages", sa.LargeBinary(), nullable=True),
        sa.Column("sought_distinguishing_marks", sa.LargeBinary(), nullable=True),
        sa.Column("sought_document_id", sa.LargeBinary(), nullable=True),
        sa.Column("sought_phone", sa.LargeBinary(), nullable=True),
        sa.Column("enquirer_full_name", sa.LargeBinary(), nullable=True),
        sa.Column("enquirer_relationship", sa.LargeBinary(), nullable=True),
        sa.Column("enquirer_phone", sa.LargeBinary(), nullable=True),
        sa.Column("enquirer_email", sa.LargeBinary(), nullable=True),
        sa.Column("enquirer_address", sa.LargeBinary(), nullable=True),
        sa.Column("enquirer_shares_identity_with_sought_person", sa.LargeBinary(), nullable=True),
        sa.Column("separation_date", sa.LargeBinary(), nullable=True),
        sa.Column("separation_place", sa.LargeBinary(), nullable=True),
        sa.Column("separation_circumstances", sa.LargeBinary(), nullable=True),
        sa.Column("separation_last_known_place", sa.LargeBinary(), nullable=True),
        sa.Column("separation_route", sa.LargeBinary(), nullable=True),
        sa.Column("message", sa.LargeBinary(), nullable=True),
        sa.Column("society_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open", "closed", name="record_status", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column(
            "legal_basis",
            sa.Enum(
                "vital_interest",
                "consent",
                "public_interest",
                "legitimate_interest",
                name="legal_basis",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("flagged_minor", sa.Boolean(), nullable=False),
        sa.Column("minor", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_tracing_requests_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["society_id"], ["societies.id"], name=op.f("fk_tracing_requests_society_id_societies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracing_requests")),
    )
    op.create_index(op.f("ix_tracing_requests_society_id"), "tracing_requests", ["society_id"], unique=False)
    op.create_index(op.f("ix_tracing_requests_status"), "tracing_requests", ["status"], unique=False)


def downgrade() -> None:

    op.drop_index(op.f("ix_tracing_requests_status"), table_name="tracing_requests")
    op.drop_index(op.f("ix_tracing_requests_society_id"), table_name="tracing_requests")
    op.drop_table("tracing_requests")
    op.drop_index(op.f("ix_sightings_status"), table_name="sightings")
    op.drop_index(op.f("ix_sightings_society_id"), table_name="sightings")
    op.drop_table("sightings")
    op.drop_index(op.f("ix_record_edits_record_id"), table_name="record_edits")
    op.drop_table("record_edits")
    op.drop_index(op.f("ix_data_keys_kek_version"), table_name="data_keys")
    op.drop_table("data_keys")
    op.drop_index("ix_blind_index_lookup", table_name="blind_index_entries")
    op.drop_index(op.f("ix_blind_index_entries_subject_id"), table_name="blind_index_entries")
    op.drop_index(op.f("ix_blind_index_entries_record_id"), table_name="blind_index_entries")
    op.drop_table("blind_index_entries")
