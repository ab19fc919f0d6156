"""The skeleton monitoring figures are counted from: when a record reached a final status, and a
sighting's condition as a readable code.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

Enums are frozen here as literal values; this revision never imports the live models.

What can be filled in without decrypting is filled in here: the condition code of sightings already
flagged deceased, and ``closed_at`` of closed and disclosed records (the first allowed disclosure of a
disclosed tracing request, else the record's last change). The other condition codes are in the
encrypted condition only: ``rfl records backfill-conditions`` fills them in, decrypting in memory;
until then the reports count those sightings as ``not_recorded``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CONDITION_CHECK = "condition_code IN ('alive', 'detained', 'hospitalised', 'deceased')"
CONDITION_CHECK_NAME = "ck_sightings_sighting_condition"


def upgrade() -> None:
    # Columns are added in place: batch mode on SQLite would recreate the tables, and dropping a table
    # other tables' rows refer to fails.
    for table in ("tracing_requests", "sightings"):
        op.add_column(table, sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        op.create_index(op.f(f"ix_{table}_closed_at"), table, ["closed_at"], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE sightings ADD COLUMN condition_code VARCHAR(32) "
            f"CONSTRAINT {CONDITION_CHECK_NAME} CHECK ({CONDITION_CHECK})"
        )
    else:
        op.add_column("sightings", sa.Column("condition_code", sa.String(length=32), nullable=True))
        op.create_check_constraint(op.f(CONDITION_CHECK_NAME), "sightings", CONDITION_CHECK)
    _fill_in_what_needs_no_decryption()


def _fill_in_what_needs_no_decryption() -> None:
    op.execute("UPDATE sightings SET condition_code = 'deceased' WHERE deceased")
    op.execute(
        """
        UPDATE tracing_requests SET closed_at = COALESCE(
            (SELECT MIN(d.decided_at) FROM disclosures d
             WHERE d.tracing_request_id = tracing_requests.id AND d.outcome = 'allowed'),
            updated_at)
        WHERE status = 'disclosed'
        """
    )
    for table in ("tracing_requests", "sightings"):
        # Over this migration's constant table names; no input reaches the statement.
        op.execute(f"UPDATE {table} SET closed_at = updated_at WHERE status = 'closed'")  # nosec B608


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f(CONDITION_CHECK_NAME), "sightings", type_="check")
    # SQLite drops a column with its own CHECK in place (3.35+), again without recreating the table.
    op.drop_column("sightings", "condition_code")
    for table in ("sightings", "tracing_requests"):
        op.drop_index(op.f(f"ix_{table}_closed_at"), table_name=table)
        op.drop_column(table, "closed_at")
