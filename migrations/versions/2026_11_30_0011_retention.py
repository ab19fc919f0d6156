"""Retention and erasure: a society's own periods, erasures, resumable retention runs, legal holds,
when each person of a record was erased, and why the system withdrew a candidate.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

Enums are frozen here as literal values; this revision never imports the live models. Columns are
added in place (no table is recreated on SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ERASURE_REASONS = (
    "retention_expired",
    "no_longer_necessary",
    "consent_withdrawn",
    "objection",
    "unlawful_processing",
    "legal_obligation",
    "data_subject_request",
)
RUN_ITEM_OUTCOMES = ("erased", "held", "already_erased")


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("society_id", sa.Uuid(), nullable=False),
        sa.Column("person", sa.String(length=16), nullable=False),
        sa.Column("reason", _enum(ERASURE_REASONS, "erasure_reason"), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    op.create_index(op.f("ix_erasures_record_id"), "erasures", ["record_id"], unique=False)
    op.create_index(op.f("ix_erasures_society_id"), "erasures", ["society_id"], unique=False)
    op.create_table(
        "retention_runs",
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )
    op.create_table(
        "retention_periods",
        sa.Column("society_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["society_id"], ["societies.id"], name=op.f("fk_retention_periods_society_id_societies")
        ),
        sa.PrimaryKeyConstraint("society_id", "category", name=op.f("pk_retention_periods")),
    )
    op.create_table(
        "retention_run_items",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("person", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("outcome", _enum(RUN_ITEM_OUTCOMES, "run_item_outcome"), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["retention_runs.id"], name=op.f("fk_retention_run_items_run_id_retention_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "position", name=op.f("pk_retention_run_items")),
    )
    op.create_index(
        "ix_retention_run_items_todo", "retention_run_items", ["run_id", "done_at", "position"], unique=False
    )
    op.add_column("match_candidates", sa.Column("withdraw_code", sa.String(length=32), nullable=True))
    op.add_column("sightings", sa.Column("found_erased_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "tracing_requests", sa.Column("sought_erased_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "tracing_requests", sa.Column("enquirer_erased_at", sa.DateTime(timezone=True), nullable=True)
    )
    for table in ("tracing_requests", "sightings"):
        op.add_column(table, sa.Column("legal_hold", sa.String(length=32), nullable=True))
        op.add_column(table, sa.Column("legal_hold_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Plain columns without constraints: SQLite drops them in place (3.35+).
    for table in ("sightings", "tracing_requests"):
        op.drop_column(table, "legal_hold_at")
        op.drop_column(table, "legal_hold")
    op.drop_column("tracing_requests", "enquirer_erased_at")
    op.drop_column("tracing_requests", "sought_erased_at")
    op.drop_column("sightings", "found_erased_at")
    op.drop_column("match_candidates", "withdraw_code")
    op.drop_index("ix_retention_run_items_todo", table_name="retention_run_items")
    op.drop_table("retention_run_items")
    op.drop_table("retention_periods")
    op.drop_table("retention_runs")
    op.drop_index(op.f("ix_erasures_society_id"), table_name="erasures")
    op.drop_index(op.f("ix_erasures_record_id"), table_name="erasures")
    op.drop_table("erasures")
