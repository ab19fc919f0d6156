"""Consent records: appended, never edited; the latest for one (person, recipient) is in force.

The terms (decision, scope, recipient, method, expiry) stay readable so the policy can be applied, and
are sealed with a keyed MAC of the sighting's society: a row forged or altered in the database does not
verify, is never honoured, and is reported. Personal details (a guardian's name, a note, the found
person's message for the family) are ciphertexts under the found person's own data key, so erasing the
person reaches them without editing the row.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy import ConsentMethod, ConsentStatus
from rfl.db import Base, IdMixin, UTCDateTime, enum_column

PARTNERS = "partners"  # the recipient of a consent to share the sighting with RFL partners (exports)


class Consent(IdMixin, Base):
    __tablename__ = "consent_records"
    __table_args__ = (sa.Index("ix_consent_records_subject", "sighting_id", "recipient", "recorded_at"),)

    sighting_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sightings.id"))
    society_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    # A tracing request's id, or PARTNERS.
    recipient: Mapped[str] = mapped_column(sa.String(64))
    decision: Mapped[ConsentStatus] = mapped_column(enum_column(ConsentStatus, "consent_decision"))
    scope: Mapped[list[str]] = mapped_column(sa.JSON)
    method: Mapped[ConsentMethod] = mapped_column(enum_column(ConsentMethod, "consent_method"))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    guardian_name: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    note: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    message: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    seal: Mapped[bytes] = mapped_column(sa.LargeBinary)
