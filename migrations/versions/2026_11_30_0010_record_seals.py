"""Seals over the records' protection and status columns; users' emails unique per society.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

Each tracing request and sighting gets a ``seal`` column: a keyed MAC (under the owning society's key
ring) over its minor, flagged_minor, deceased, no_cross_border and exclude columns. Computing it needs
the societies' keys, which a migration never holds, so existing rows stay without a seal here and are
read as their most restrictive setting (never as unrestricted) until ``rfl records seal`` seals them.

A user's email becomes unique within its society instead of across all of them, so that creating a user
never tells an admin whether another society has someone with that email. Going back fails if two
societies have come to share an email (the old constraint cannot hold then).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("tracing_requests", "sightings"):
        op.add_column(table, sa.Column("seal", sa.LargeBinary(), nullable=True))

    def per_society() -> None:
        with op.batch_alter_table("users") as batch:
            batch.drop_constraint("uq_users_email", type_="unique")
            batch.create_unique_constraint("uq_users_society_id_email", ["society_id", "email"])
            batch.create_index("ix_users_email", ["email"], unique=False)

    _rebuilding_users(per_society)


def downgrade() -> None:
    def across_societies() -> None:
        with op.batch_alter_table("users") as batch:
            batch.drop_index("ix_users_email")
            batch.drop_constraint("uq_users_society_id_email", type_="unique")
            batch.create_unique_constraint("uq_users_email", ["email"])

    _rebuilding_users(across_societies)
    for table in ("tracing_requests", "sightings"):
        op.drop_column(table, "seal")


def _rebuilding_users(change: Callable[[], None]) -> None:
    """Run ``change``; on SQLite, with foreign keys off around it.

    SQLite drops a constraint by rebuilding the table, and dropping the old ``users`` table fails while
    tokens, records and keys refer to its rows. ``PRAGMA foreign_keys`` is a no-op inside a transaction,
    so (SQLite's documented procedure for altering a table) the revision's transaction is committed,
    foreign keys turned off, the table rebuilt in a transaction of its own and checked with
    ``foreign_key_check``, and foreign keys turned on again before the migration goes on.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        change()
        return
    raw = bind.connection.dbapi_connection
    if raw is None:
        raise RuntimeError("the migration's connection is closed")
    raw.execute("COMMIT")
    raw.execute("PRAGMA foreign_keys=OFF")
    raw.execute("BEGIN IMMEDIATE")
    try:
        change()
        if bind.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
            raise RuntimeError("rebuilding users left rows that refer to no user")
    except BaseException:
        raw.execute("ROLLBACK")
        raw.execute("PRAGMA foreign_keys=ON")
        raw.execute("BEGIN IMMEDIATE")
        raise
    raw.execute("COMMIT")
    raw.execute("PRAGMA foreign_keys=ON")
    raw.execute("BEGIN IMMEDIATE")
