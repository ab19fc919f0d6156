"""The match workflow: match candidates, fitted matcher models, re-scoring runs, the transactional
outbox, each record's match_version, and the statuses a tracing request takes through the workflow.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

Enums are frozen here as literal values; this revision never imports the live models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


FORMER_STATUSES = ("open", "closed")
WORKFLOW_STATUSES = ("open", "awaiting_consent", "disclosed", "closed")


def _status_check(statuses: tuple[str, ...]) -> sa.TextClause:
    return sa.text("status IN (" + ", ".join(f"'{status}'" for status in statuses) + ")")


def upgrade() -> None:
    op.create_table(
        "match_runs",
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("last_request_id", sa.Uuid(), nullable=True),
        sa.Column("done_requests", sa.Integer(), nullable=False),
        sa.Column("total_requests", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_runs")),
    )
    op.create_table(
        "matcher_models",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("sightings", sa.Integer(), nullable=False),
        sa.Column("labels", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_matcher_models")),
    )
    with op.batch_alter_table("matcher_models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_matcher_models_active"), ["active"], unique=False)

    op.create_table(
        "outbox_messages",
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("relayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_messages_object_id"), ["object_id"], unique=False)
        batch_op.create_index("ix_outbox_messages_pending", ["topic", "created_at"], unique=False)

    op.create_table(
        "match_candidates",
        sa.Column("tracing_request_id", sa.Uuid(), nullable=False),
        sa.Column("sighting_id", sa.Uuid(), nullable=False),
        sa.Column("request_society_id", sa.Uuid(), nullable=False),
        sa.Column("sighting_society_id", sa.Uuid(), nullable=False),
        sa.Column("request_match_version", sa.Integer(), nullable=False),
        sa.Column("sighting_match_version", sa.Integer(), nullable=False),
        sa.Column("match_probability", sa.Float(), nullable=False),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "proposed",
                "pending_approval",
                "confirmed",
                "rejected",
                "superseded",
                "withdrawn",
                name="match_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("confirmed_by", sa.Uuid(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirm_note", sa.LargeBinary(), nullable=True),
        sa.Column("reject_reason", sa.LargeBinary(), nullable=True),
        sa.Column("withdraw_reason", sa.LargeBinary(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sighting_id"], ["sightings.id"], name=op.f("fk_match_candidates_sighting_id_sightings")
        ),
        sa.ForeignKeyConstraint(
            ["tracing_request_id"],
            ["tracing_requests.id"],
            name=op.f("fk_match_candidates_tracing_request_id_tracing_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_candidates")),
    )
    with op.batch_alter_table("match_candidates", schema=None) as batch_op:
        batch_op.create_index("ix_match_candidates_pair", ["tracing_request_id", "sighting_id"], unique=False)
        batch_op.create_index("ix_match_candidates_queue", ["status", "match_probability"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_match_candidates_request_society_id"), ["request_society_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_match_candidates_sighting_id"), ["sighting_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_match_candidates_sighting_society_id"), ["sighting_society_id"], unique=False
        )
        batch_op.create_index(
            "uq_match_candidates_confirmed_request",
            ["tracing_request_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('pending_approval', 'confirmed')"),
            postgresql_where=sa.text("status IN ('pending_approval', 'confirmed')"),
        )
        batch_op.create_index(
            "uq_match_candidates_open_pair",
            ["tracing_request_id", "sighting_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('proposed', 'pending_approval')"),
            postgresql_where=sa.text("status IN ('proposed', 'pending_approval')"),
        )

    for table in ("sightings", "tracing_requests"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("match_version", sa.Integer(), nullable=False, server_default="1"))
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("match_version", server_default=None)
            batch_op.drop_constraint(op.f(f"ck_{table}_record_status"), type_="check")
            batch_op.create_check_constraint("record_status", _status_check(WORKFLOW_STATUSES))


def downgrade() -> None:
    for table in ("sightings", "tracing_requests"):
        # Over this migration's constant table names; no input reaches the statement.
        op.execute(f"UPDATE {table} SET status = 'open' WHERE status IN ('awaiting_consent', 'disclosed')")  # nosec B608
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("match_version")
            batch_op.drop_constraint(op.f(f"ck_{table}_record_status"), type_="check")
            batch_op.create_check_constraint("record_status", _status_check(FORMER_STATUSES))

    with op.batch_alter_table("match_candidates", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_match_candidates_open_pair",
            sqlite_where=sa.text("status IN ('proposed', 'pending_approval')"),
            postgresql_where=sa.text("status IN ('proposed', 'pending_approval')"),
        )
        batch_op.drop_index(
            "uq_match_candidates_confirmed_request",
            sqlite_where=sa.text("status IN ('pending_approval', 'confirmed')"),
            postgresql_where=sa.text("status IN ('pending_approval', 'confirmed')"),
        )
        batch_op.drop_index(batch_op.f("ix_match_candidates_sighting_society_id"))
        batch_op.drop_index(batch_op.f("ix_match_candidates_sighting_id"))
        batch_op.drop_index(batch_op.f("ix_match_candidates_request_society_id"))
        batch_op.drop_index("ix_match_candidates_queue")
        batch_op.drop_index("ix_match_candidates_pair")

    op.drop_table("match_candidates")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_pending")
        batch_op.drop_index(batch_op.f("ix_outbox_messages_object_id"))

    op.drop_table("outbox_messages")
    with op.batch_alter_table("matcher_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matcher_models_active"))

    op.drop_table("matcher_models")
    op.drop_table("match_runs")
