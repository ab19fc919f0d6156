"""Audit events (leaves of a Merkle tree, in one order) and signed checkpoints of that tree."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from rfl.db import Base, UTCDateTime

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class AuditEvent(Base):
    """One entry: who did what to which object, naming fields but never their values.

    ``seq`` is the entry's index in the Merkle tree (0, 1, 2, ... without gaps); ``leaf_hash`` is the
    RFC 6962 leaf hash of the entry's canonical form, so verification can recompute and compare it.
    """

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, index=True)
    actor_society_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    owner_society_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, index=True)
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    outcome: Mapped[str] = mapped_column(sa.String(16))
    object_type: Mapped[str | None] = mapped_column(sa.String(64))
    object_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    fields: Mapped[list[str]] = mapped_column(sa.JSON)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    leaf_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    # The further objects the entry is about (e.g. the records one search returned), in its leaf hash.
    object_ids: Mapped[list[str] | None] = mapped_column(sa.JSON(none_as_null=True))

    def __repr__(self) -> str:
        return f"<AuditEvent seq={self.seq} id={self.id}>"


class AuditEventObject(Base):
    """Which society owns each further object of an entry, so that society sees the entry (an index
    of ``AuditEvent.object_ids``, which the leaf hash covers)."""

    __tablename__ = "audit_event_objects"
    __table_args__ = (sa.Index("ix_audit_event_objects_society_id_seq", "society_id", "seq"),)

    # No foreign key: it would make the log's own TRUNCATE guard answer with another refusal.
    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    object_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, index=True)
    society_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)

    def __repr__(self) -> str:
        return f"<AuditEventObject seq={self.seq}>"


class AuditCheckpoint(Base):
    """A signed tree head (C2SP tlog-checkpoint signed note) of the first ``tree_size`` entries."""

    __tablename__ = "audit_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    note: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The tree's right edge at this size (concatenated 32-byte hashes): the next checkpoint hashes only
    # the entries added since. Verification never trusts it: it recomputes every leaf and root.
    compact_range: Mapped[bytes | None] = mapped_column(sa.LargeBinary)

    def __repr__(self) -> str:
        return f"<AuditCheckpoint tree_size={self.tree_size}>"


class AuditVerification(Base):
    """How far a verification run (from entry 0) has come, as a signed note (``rfl.audit.verification``).

    The note carries everything (run, sizes, the tree's right edge, problems found); ``recorded_at``
    repeats its time only so the latest record can be found by index, and must equal the note's.
    """

    __tablename__ = "audit_verifications"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    note: Mapped[str] = mapped_column(sa.Text)

    def __repr__(self) -> str:
        return f"<AuditVerification id={self.id}>"
