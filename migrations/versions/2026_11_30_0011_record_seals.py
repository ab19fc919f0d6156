"""Seals over the records' protection and status columns.

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-30

Each tracing request and sighting gets a ``seal`` column: a keyed MAC (under the owning society's key
ring) over its minor, flagged_minor, deceased, no_cross_border and exclude columns. Computing it needs
the societies' keys, which a migration never holds, so existing rows stay without a seal here and are
read as their most restrictive setting (never as unrestricted) until ``rfl records seal`` seals them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("tracing_requests", "sightings"):
        op.add_column(table, sa.Column("seal", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    for table in ("tracing_requests", "sightings"):
        op.drop_column(table, "seal")
