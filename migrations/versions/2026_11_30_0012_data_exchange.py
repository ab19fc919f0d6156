"""Data exchange: import jobs, and the keyed hashes of imported records' source ids.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30

Enums are frozen here as literal values; this revision never imports the live models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("society_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("format", _enum("import_format", "pfif", "csv"), nullable=False),
        sa.Column("mode", _enum("import_mode", "valid_only", "all_or_nothing"), nullable=False),
        sa.Column(
            "legal_basis",
            _enum("legal_basis", "vital_interest", "consent", "public_interest", "legitimate_interest"),
            nullable=False,
        ),
        sa.Column(
            "status",
            _enum("import_status", "queued", "running", "done", "rejected", "failed"),
            nullable=False,
        ),
        sa.Column("mapping", sa.JSON(), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("already_present", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_import_jobs_created_by_users")),
        sa.ForeignKeyConstraint(
            ["society_id"], ["societies.id"], name=op.f("fk_import_jobs_society_id_societies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index(op.f("ix_import_jobs_society_id"), "import_jobs", ["society_id"], unique=False)
    op.create_table(
        "imported_records",
        sa.Column("society_id", sa.Uuid(), nullable=False),
        sa.Column("source_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["import_jobs.id"], name=op.f("fk_imported_records_job_id_import_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["society_id"], ["societies.id"], name=op.f("fk_imported_records_society_id_societies")
        ),
        sa.PrimaryKeyConstraint("society_id", "source_key", name=op.f("pk_imported_records")),
    )
    op.create_index(op.f("ix_imported_records_job_id"), "imported_records", ["job_id"], unique=False)
    op.create_index(op.f("ix_imported_records_record_id"), "imported_records", ["record_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_imported_records_record_id"), table_name="imported_records")
    op.drop_index(op.f("ix_imported_records_job_id"), table_name="imported_records")
    op.drop_table("imported_records")
    op.drop_index(op.f("ix_import_jobs_society_id"), table_name="import_jobs")
    op.drop_table("import_jobs")
