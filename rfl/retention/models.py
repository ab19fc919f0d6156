"""A society's own retention periods, the erasures done, and retention runs (resumable after a kill).

Nothing here holds personal data: ids, roles, codes and dates only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from rfl.db import Base, CreatedAt, IdMixin, UTCDateTime, enum_column


class ErasureReason(StrEnum):
    """Why a person was erased: the grounds of the right to erasure (GDPR Art. 17(1)), and the end of
    a retention period. A code, never free text: it goes into the audit log, which is never erased."""

    RETENTION_EXPIRED = "retention_expired"
    NO_LONGER_NECESSARY = "no_longer_necessary"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    OBJECTION = "objection"
    UNLAWFUL_PROCESSING = "unlawful_processing"
    LEGAL_OBLIGATION = "legal_obligation"
    DATA_SUBJECT_REQUEST = "data_subject_request"


# Reasons an admin may give for an erasure on request (a retention run gives RETENTION_EXPIRED).
REQUEST_REASONS = tuple(reason for reason in ErasureReason if reason is not ErasureReason.RETENTION_EXPIRED)


class HoldReason(StrEnum):
    """Why a record is under a legal hold (kept from erasure until the hold is lifted)."""

    LITIGATION = "litigation"
    INVESTIGATION = "investigation"
    AUTHORITY_REQUEST = "authority_request"
    SAFEGUARDING = "safeguarding"


class RetentionPeriod(Base):
    """A society's own period for one category, over the installation's default (None: never)."""

    __tablename__ = "retention_periods"

    society_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("societies.id"), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    days: Mapped[int | None]
    updated_by: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Erasure(IdMixin, Base):
    """One person erased: which record and role, why, by whom (None: a retention run), and when."""

    __tablename__ = "erasures"

    record_type: Mapped[str] = mapped_column(sa.String(32))
    record_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    society_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    person: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[ErasureReason] = mapped_column(enum_column(ErasureReason, "erasure_reason"))
    requested_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    run_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RetentionRun(IdMixin, Base):
    """A run of `rfl retention run`: its plan is fixed when it starts (as of ``as_of``), so a run
    resumed after a kill erases exactly the persons the first start planned."""

    __tablename__ = "retention_runs"

    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    planned: Mapped[int]
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[CreatedAt]


class RunItemOutcome(StrEnum):
    ERASED = "erased"
    # Under a legal hold when its turn came: skipped and reported.
    HELD = "held"
    # Erased meanwhile by a request (or a run before this one): nothing left to do.
    ALREADY_ERASED = "already_erased"


class RetentionRunItem(Base):
    """One person a run planned to erase; ``done_at`` is set in the transaction that erased it."""

    __tablename__ = "retention_run_items"
    __table_args__ = (sa.Index("ix_retention_run_items_todo", "run_id", "done_at", "position"),)

    run_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("retention_runs.id"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    record_type: Mapped[str] = mapped_column(sa.String(32))
    record_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    person: Mapped[str] = mapped_column(sa.String(16))
    category: Mapped[str] = mapped_column(sa.String(32))
    outcome: Mapped[RunItemOutcome | None] = mapped_column(enum_column(RunItemOutcome, "run_item_outcome"))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
