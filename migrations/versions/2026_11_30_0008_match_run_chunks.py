"""Re-scoring runs split into chunks of tracing requests, taken by this process or by Celery workers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

A run's progress is its chunks now: runs started before this revision have none, and are taken for
finished (a new ``rfl match run`` re-scores everything again, idempotently).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_run_chunks",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_request_id", sa.Uuid(), nullable=False),
        sa.Column("last_request_id", sa.Uuid(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["match_runs.id"], name=op.f("fk_match_run_chunks_run_id_match_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "number", name=op.f("pk_match_run_chunks")),
    )
    op.execute("UPDATE match_runs SET finished_at = created_at WHERE finished_at IS NULL")
    with op.batch_alter_table("match_runs", schema=None) as batch_op:
        batch_op.drop_column("done_requests")
        batch_op.drop_column("last_request_id")


def downgrade() -> None:
    with op.batch_alter_table("match_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_request_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("done_requests", sa.Integer(), nullable=False, server_default="0"))

    op.drop_table("match_run_chunks")
