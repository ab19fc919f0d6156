"""Disclosures: every request to release information to a family, allowed or denied, appended."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from rfl.db import Base, IdMixin, UTCDateTime, enum_column


class DisclosureOutcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"


class Disclosure(IdMixin, Base):
    """What was asked for, by whom, for which request, and what the policy decided and relied on.

    The released values are never stored here: they were decrypted for the answer and are in the
    records (under their data keys) exactly as long as the records are.
    """

    __tablename__ = "disclosures"

    match_candidate_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("match_candidates.id"), index=True)
    tracing_request_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    sighting_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    request_society_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    sighting_society_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    categories: Mapped[list[str]] = mapped_column(sa.JSON)
    outcome: Mapped[DisclosureOutcome] = mapped_column(enum_column(DisclosureOutcome, "disclosure_outcome"))
    reasons: Mapped[list[str]] = mapped_column(sa.JSON)
    # The consent record the release relied on (none for a denial, or for the fate of a deceased person).
    consent_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    officer_user_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
