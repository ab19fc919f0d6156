"""Blind-index truncation planned per society and index-key version from the expected distinct terms.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30

This revision never imports the live models.

Until now every index value kept 18 bits, planned from a million expected index *rows*; names repeat,
so each value pinned one name. ``blind_index_plans`` holds, per society, index-key version and index,
the distinct terms planned for and the bits that leave two of them per value. Existing values are
shortened in place to their plan's bits: a value is the leading bits of an HMAC, so the shorter value is
a prefix of the longer one and no key is needed. The plans written here use the shipped defaults of
``rfl.crypto.planning.IndexPlanning`` (copied below: a revision must not change when the code does).

Downgrade drops the plans; the shortened values cannot be lengthened without the index keys, so after a
downgrade run ``rfl match run --reindex`` (which rebuilds every record's index rows).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OLD_BITS = 18
INDEX_VERSION = 1
# The shipped planning's expected distinct terms and the bits plan_index_bits gives them.
PLANS = {"name_token": (20_000, 13), "name_skeleton": (4_000, 10), "match_block": (1_000_000, 18)}
BATCH = 2_000


def upgrade() -> None:
    op.create_table(
        "blind_index_plans",
        sa.Column("society_id", sa.Uuid(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("index_name", sa.String(length=32), nullable=False),
        sa.Column("index_version", sa.Integer(), nullable=False),
        sa.Column("expected_terms", sa.Integer(), nullable=False),
        sa.Column("bits", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["society_id"], ["societies.id"], name=op.f("fk_blind_index_plans_society_id_societies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blind_index_plans")),
        sa.UniqueConstraint(
            "society_id", "key_version", "index_name", "index_version", name="uq_blind_index_plans_version"
        ),
    )
    _plan_and_shorten_existing_values()


def _plan_and_shorten_existing_values() -> None:
    connection = op.get_bind()
    entries = sa.table(
        "blind_index_entries",
        sa.column("society_id", sa.Uuid()),
        sa.column("key_version", sa.Integer()),
        sa.column("index_name", sa.String()),
        sa.column("index_version", sa.Integer()),
        sa.column("value", sa.LargeBinary()),
    )
    plans = sa.table(
        "blind_index_plans",
        sa.column("id", sa.Uuid()),
        sa.column("society_id", sa.Uuid()),
        sa.column("key_version", sa.Integer()),
        sa.column("index_name", sa.String()),
        sa.column("index_version", sa.Integer()),
        sa.column("expected_terms", sa.Integer()),
        sa.column("bits", sa.Integer()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    versions = connection.execute(
        sa.select(entries.c.society_id, entries.c.key_version)
        .where(entries.c.index_version == INDEX_VERSION)
        .distinct()
    ).all()
    now = datetime.now(UTC)
    for society_id, key_version in versions:
        connection.execute(
            plans.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "society_id": society_id,
                    "key_version": key_version,
                    "index_name": name,
                    "index_version": INDEX_VERSION,
                    "expected_terms": expected,
                    "bits": bits,
                    "created_at": now,
                }
                for name, (expected, bits) in PLANS.items()
            ],
        )
        for name, (_, bits) in PLANS.items():
            if bits < OLD_BITS:
                _shorten(
                    connection,
                    entries,
                    society_id=society_id,
                    key_version=key_version,
                    index_name=name,
                    bits=bits,
                )


def _shorten(
    connection: sa.Connection,
    entries: sa.TableClause,
    *,
    society_id: uuid.UUID,
    key_version: int,
    index_name: str,
    bits: int,
) -> None:
    """Rewrite one index's values to their first ``bits`` bits (one UPDATE per distinct old value)."""
    where = sa.and_(
        entries.c.society_id == society_id,
        entries.c.key_version == key_version,
        entries.c.index_name == index_name,
        entries.c.index_version == INDEX_VERSION,
    )
    old_values = list(connection.scalars(sa.select(entries.c.value).where(where).distinct()))
    update = (
        entries.update()
        .where(where, entries.c.value == sa.bindparam("old"))
        .values(value=sa.bindparam("new"))
    )
    for start in range(0, len(old_values), BATCH):
        batch = old_values[start : start + BATCH]
        connection.execute(update, [{"old": old, "new": _truncate(old, bits)} for old in batch])


def _truncate(value: bytes, bits: int) -> bytes:
    """The leading ``bits`` bits of ``value``, the spare low bits of the last byte zero (as the blind
    indexer truncates its HMACs)."""
    nbytes = (bits + 7) // 8
    out = bytearray(value[:nbytes])
    spare = nbytes * 8 - bits
    if spare:
        out[-1] &= (0xFF << spare) & 0xFF
    return bytes(out)


def downgrade() -> None:
    op.drop_table("blind_index_plans")
