"""Indexes a name search reads at size: the lookup index carries what a search selects (PostgreSQL), and
a partial index holds the sightings a restriction may hide.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01

This revision never imports the live models.

At 100,000 sightings a search for two common names matched 16,668 blind-index rows scattered over
10,742 pages of the table, and read every matching sighting twice (once to rank what may be shown, once
to find what a restriction withholds): 250 ms of SQL a search. PostgreSQL now reads the rows from the
lookup index alone (``INCLUDE``: SQLite has no such clause and reads its rows by rowid, in process),
and the withheld sightings are looked for among the sightings that carry a restriction only. The
partial index's predicate is ``rfl.records.models.RESTRICTED`` as each database's dialect writes it
(copied: a revision must not change when the code does; SQLite uses a partial index only for a query
whose condition is the index's own, expression for expression). PostgreSQL also keeps statistics of the
stored ``exclude`` text, without which it guesses that nearly every sighting is restricted and plans
the withheld sightings' query as a parallel scan.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

LOOKUP_COLUMNS = ["index_name", "index_version", "value"]
CARRIED = ["key_version", "record_type", "society_id", "record_id"]
EXCLUDE_STATISTICS = "st_sightings_exclude_text"
RESTRICTED = {
    "postgresql": "no_cross_border OR CAST(exclude AS TEXT) != '[]'",
    "sqlite": "no_cross_border = 1 OR CAST(exclude AS TEXT) != '[]'",
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_blind_index_lookup", table_name="blind_index_entries")
        op.create_index(
            "ix_blind_index_lookup", "blind_index_entries", LOOKUP_COLUMNS, postgresql_include=CARRIED
        )
    op.create_index(
        "ix_sightings_restricted",
        "sightings",
        ["id"],
        postgresql_where=sa.text(RESTRICTED["postgresql"]),
        sqlite_where=sa.text(RESTRICTED["sqlite"]),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE STATISTICS {EXCLUDE_STATISTICS} ON (CAST(exclude AS TEXT)) FROM sightings")


def downgrade() -> None:
    op.drop_index("ix_sightings_restricted", table_name="sightings")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP STATISTICS {EXCLUDE_STATISTICS}")
        op.drop_index("ix_blind_index_lookup", table_name="blind_index_entries")
        op.create_index("ix_blind_index_lookup", "blind_index_entries", LOOKUP_COLUMNS)
