"""Idempotency keys are stored as keyed hashes, never as the client's text.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Remembered keys live 24 hours and only shield retries; the rows are dropped rather than converted (a
client that retries across the upgrade at worst creates the object again, exactly as without a key).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM idempotency_keys")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_constraint("uq_idempotency_keys_user_id_key", type_="unique")
        batch.drop_column("key")
        batch.add_column(sa.Column("key_hash", sa.LargeBinary(length=32), nullable=False))
        batch.create_unique_constraint("uq_idempotency_keys_user_id_key_hash", ["user_id", "key_hash"])


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_constraint("uq_idempotency_keys_user_id_key_hash", type_="unique")
        batch.drop_column("key_hash")
        batch.add_column(sa.Column("key", sa.String(length=255), nullable=False))
        batch.create_unique_constraint("uq_idempotency_keys_user_id_key", ["user_id", "key"])
