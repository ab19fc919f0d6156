"""Match candidates, and the fitted matcher models they were scored with.

A candidate holds ids, numbers and an explanation made of field names, agreement levels and weights:
never a name or any other value. Officers' notes and reasons may hold personal data, so they are
ciphertexts under the candidate's own data key (wrapped under the sighting's society's ring).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from rfl.db import Base, CreatedAt, IdMixin, UpdatedAt, UTCDateTime, enum_column


class MatchStatus(StrEnum):
    PROPOSED = "proposed"
    # Confirmed by one officer; a minor or a deceased person needs a second, different officer.
    PENDING_APPROVAL = "pending_approval"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    # One of the records changed in a field the matcher compares; a new proposal replaced it.
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"


class MatchOutcome(StrEnum):
    """The case's internal outcome, a code visible only to the sighting's society and to auditors."""

    # Rule 2: the found person refused contact; the family side learns only that the search is closed.
    LOCATED_NO_CONTACT = "located_no_contact"


# Candidates an officer may still decide on; a relevant change of either record supersedes them.
OPEN_STATUSES = (MatchStatus.PROPOSED, MatchStatus.PENDING_APPROVAL)
# The open pair's unique index covers the rows in these statuses (and an insert that yields to it names
# them alike: PostgreSQL infers the index from the same predicate, never from bound parameters).
OPEN_PAIR = "status IN ('proposed', 'pending_approval')"
# A tracing request has at most one candidate in these statuses at a time.
CONFIRMING_STATUSES = (MatchStatus.PENDING_APPROVAL, MatchStatus.CONFIRMED)


class MatchCandidate(IdMixin, Base):
    __tablename__ = "match_candidates"
    __table_args__ = (
        sa.Index("ix_match_candidates_pair", "tracing_request_id", "sighting_id"),
        sa.Index("ix_match_candidates_queue", "status", "match_probability"),
        # At most one open candidate per pair, and one confirmed (or confirming) sighting per request.
        sa.Index(
            "uq_match_candidates_open_pair",
            "tracing_request_id",
            "sighting_id",
            unique=True,
            sqlite_where=sa.text(OPEN_PAIR),
            postgresql_where=sa.text(OPEN_PAIR),
        ),
        sa.Index(
            "uq_match_candidates_confirmed_request",
            "tracing_request_id",
            unique=True,
            sqlite_where=sa.text("status IN ('pending_approval', 'confirmed')"),
            postgresql_where=sa.text("status IN ('pending_approval', 'confirmed')"),
        ),
    )

    tracing_request_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tracing_requests.id"))
    sighting_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sightings.id"), index=True)
    # The two owning societies, kept beside the pair so queues filter without joining both records.
    request_society_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    sighting_society_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    # Each record's match_version when the pair was scored: a rejection holds until one moves on.
    request_match_version: Mapped[int]
    sighting_match_version: Mapped[int]
    match_probability: Mapped[float] = mapped_column(sa.Float)
    match_weight: Mapped[float] = mapped_column(sa.Float)
    model_version: Mapped[str] = mapped_column(sa.String(64))
    # [{"field": ..., "level": ..., "weight": ...}]: field names, level labels and numbers only.
    explanation: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    status: Mapped[MatchStatus] = mapped_column(enum_column(MatchStatus, "match_status"))
    # The candidate's own data subject: its notes and reasons are encrypted under that key.
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    confirmed_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirm_note: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    reject_reason: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    withdraw_reason: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    # Why the system withdrew the candidate, as a code (``erasure``: one of its persons was erased).
    withdraw_code: Mapped[str | None] = mapped_column(sa.String(32))
    outcome: Mapped[MatchOutcome | None] = mapped_column(enum_column(MatchOutcome, "match_outcome"))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy's declarative protocol)


class MatcherModel(Base):
    """A fitted matcher, versioned; its parameters and name frequencies encrypted (personal data in
    aggregate), under a data key of its own in the system key ring."""

    __tablename__ = "matcher_models"

    version: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    payload: Mapped[bytes] = mapped_column(sa.LargeBinary)
    active: Mapped[bool] = mapped_column(default=False, index=True)
    requests: Mapped[int]
    sightings: Mapped[int]
    labels: Mapped[int]
    created_at: Mapped[CreatedAt]

    def __repr__(self) -> str:
        return f"<MatcherModel version={self.version}>"


class MatchRun(IdMixin, Base):
    """A re-scoring of every open tracing request (``rfl match run``), split into chunks of requests
    that this process or Celery workers take; resumable after a kill."""

    __tablename__ = "match_runs"

    model_version: Mapped[str] = mapped_column(sa.String(64))
    total_requests: Mapped[int]
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[CreatedAt]


class MatchRunChunk(Base):
    """The tracing requests with ids from ``first_request_id`` to ``last_request_id`` of one run.

    A chunk is done in one transaction with the proposals it stands for, so a kill loses neither alone,
    and a chunk taken twice (a repeated task) is skipped the second time.
    """

    __tablename__ = "match_run_chunks"

    run_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("match_runs.id"), primary_key=True)
    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    first_request_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    last_request_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    requests: Mapped[int]
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<MatchRunChunk run={self.run_id} number={self.number}>"
