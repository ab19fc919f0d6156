"""Tracing requests and sightings, their data keys, blind-index rows and edit history.

Personal data lives only in the ``Ciphertext`` columns (see ``rfl.records.fields``); the plaintext
columns are ids, owning society, status, legal basis, the flags the rules need, a sighting's condition
code, and timestamps. These make the skeleton that monitoring figures are counted from (``rfl.reports``)
without decrypting anything.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from rfl.db import Base, CreatedAt, IdMixin, UpdatedAt, UTCDateTime, enum_column, utcnow

Ciphertext = Annotated[bytes | None, mapped_column(sa.LargeBinary)]


class RecordStatus(StrEnum):
    OPEN = "open"
    # A tracing request whose match was confirmed: the found person's consent is being sought.
    AWAITING_CONSENT = "awaiting_consent"
    DISCLOSED = "disclosed"
    CLOSED = "closed"


# Statuses only the match and disclosure workflow sets; an edit moves a record between the others.
WORKFLOW_STATUSES = frozenset({RecordStatus.AWAITING_CONSENT, RecordStatus.DISCLOSED})
# Statuses that end a case: the family was answered (disclosed), or the search ended (closed).
FINAL_STATUSES = frozenset({RecordStatus.DISCLOSED, RecordStatus.CLOSED})


class Condition(StrEnum):
    """A found person's condition (api.md), as a code."""

    ALIVE = "alive"
    DETAINED = "detained"
    HOSPITALISED = "hospitalised"
    DECEASED = "deceased"


class LegalBasis(StrEnum):
    VITAL_INTEREST = "vital_interest"
    CONSENT = "consent"
    PUBLIC_INTEREST = "public_interest"
    LEGITIMATE_INTEREST = "legitimate_interest"


class RecordMixin(IdMixin):
    society_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("societies.id"), index=True)
    created_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    status: Mapped[RecordStatus] = mapped_column(enum_column(RecordStatus, "record_status"), index=True)
    legal_basis: Mapped[LegalBasis] = mapped_column(enum_column(LegalBasis, "legal_basis"))
    flagged_minor: Mapped[bool] = mapped_column(default=False)
    # Rule 3: true when any reading of the birth date or age could make the person a minor.
    minor: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    # Counts changes of the fields the matcher compares: a rejected pair is proposed again only after
    # one of its records changed in those fields (its match_version moved on).
    match_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]
    # When the record last reached a final status; None while it is open or awaiting consent. Kept by
    # the status listener below, so every path that moves a status keeps it.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # A keyed MAC over the protection and status columns (rfl.records.seals): a row whose seal fails,
    # or that has none, is read as its most restrictive setting.
    seal: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    # A legal hold (a code, see ``rfl.retention``) keeps the record's persons from erasure, by request or
    # by retention, until officers lift it. None: no hold.
    legal_hold: Mapped[str | None] = mapped_column(sa.String(32))
    legal_hold_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 (SQLAlchemy's declared_attr protocol)
        # Optimistic concurrency: an UPDATE names the version it read, so a stale write fails (412).
        return {"version_id_col": cls.version}


class TracingRequest(RecordMixin, Base):
    __tablename__ = "tracing_requests"

    sought_subject_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    enquirer_subject_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    # When each person was erased (their data key destroyed, their fields emptied): part of the skeleton.
    sought_erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enquirer_erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sought_given_name: Mapped[Ciphertext]
    sought_family_name: Mapped[Ciphertext]
    sought_full_name: Mapped[Ciphertext]
    sought_alternate_names: Mapped[Ciphertext]
    sought_sex: Mapped[Ciphertext]
    sought_birth_date: Mapped[Ciphertext]
    sought_age: Mapped[Ciphertext]
    sought_birth_place: Mapped[Ciphertext]
    sought_nationality: Mapped[Ciphertext]
    sought_father_name: Mapped[Ciphertext]
    sought_mother_name: Mapped[Ciphertext]
    sought_languages: Mapped[Ciphertext]
    sought_distinguishing_marks: Mapped[Ciphertext]
    sought_document_id: Mapped[Ciphertext]
    sought_phone: Mapped[Ciphertext]
    enquirer_full_name: Mapped[Ciphertext]
    enquirer_relationship: Mapped[Ciphertext]
    enquirer_phone: Mapped[Ciphertext]
    enquirer_email: Mapped[Ciphertext]
    enquirer_address: Mapped[Ciphertext]
    enquirer_shares_identity_with_sought_person: Mapped[Ciphertext]
    separation_date: Mapped[Ciphertext]
    separation_place: Mapped[Ciphertext]
    separation_circumstances: Mapped[Ciphertext]
    separation_last_known_place: Mapped[Ciphertext]
    separation_route: Mapped[Ciphertext]
    message: Mapped[Ciphertext]


class Sighting(RecordMixin, Base):
    __tablename__ = "sightings"

    found_subject_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    # When the found person was erased (their data key destroyed, their fields emptied).
    found_erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Rule 4 needs to know a person is dead without decrypting anything.
    deceased: Mapped[bool] = mapped_column(default=False)
    # The condition as a readable code, so monitoring counts sightings by condition without decrypting:
    # a code of four values about a row that names nobody (like ``deceased``). The ciphertext
    # ``condition`` stays the record's own copy. None: registered before the code was kept and not yet
    # filled in (``rfl records backfill-conditions``).
    condition_code: Mapped[Condition | None] = mapped_column(enum_column(Condition, "sighting_condition"))
    # Rule 10: protection restrictions, honoured everywhere, so kept readable.
    no_cross_border: Mapped[bool] = mapped_column(default=False)
    exclude: Mapped[list[str]] = mapped_column(sa.JSON, default=list)

    person_given_name: Mapped[Ciphertext]
    person_family_name: Mapped[Ciphertext]
    person_full_name: Mapped[Ciphertext]
    person_alternate_names: Mapped[Ciphertext]
    person_sex: Mapped[Ciphertext]
    person_birth_date: Mapped[Ciphertext]
    person_age: Mapped[Ciphertext]
    person_birth_place: Mapped[Ciphertext]
    person_nationality: Mapped[Ciphertext]
    person_father_name: Mapped[Ciphertext]
    person_mother_name: Mapped[Ciphertext]
    person_languages: Mapped[Ciphertext]
    person_distinguishing_marks: Mapped[Ciphertext]
    person_document_id: Mapped[Ciphertext]
    person_phone: Mapped[Ciphertext]
    registration_date: Mapped[Ciphertext]
    registration_place: Mapped[Ciphertext]
    registration_country: Mapped[Ciphertext]
    whereabouts_current_place: Mapped[Ciphertext]
    whereabouts_address: Mapped[Ciphertext]
    whereabouts_phone: Mapped[Ciphertext]
    whereabouts_email: Mapped[Ciphertext]
    condition: Mapped[Ciphertext]
    seeking_family: Mapped[Ciphertext]


def _stamp_closing(target: RecordMixin, value: RecordStatus, oldvalue: object, _initiator: object) -> None:
    """Keep ``closed_at``: set when a record reaches a final status, cleared when it is opened again."""
    if value not in FINAL_STATUSES:
        target.closed_at = None
    elif oldvalue != value:
        target.closed_at = utcnow()  # the clock of ``created_at``, so durations compare like with like


for _model in (TracingRequest, Sighting):
    # active_history: the old status is loaded before the change, so re-setting the same final status
    # (an edit saves every plain column) does not move the date.
    event.listen(_model.status, "set", _stamp_closing, active_history=True)


# Sightings whose ``exclude`` list is empty as stored (the JSON type writes ``json.dumps([])``): read as
# text, so that most rows never have their list parsed.
EXCLUDES_NOBODY = sa.cast(Sighting.exclude, sa.Text) == sa.literal_column("'[]'")
# The few sightings a restriction may hide. A partial index holds them, and queries use this very
# expression, so that each database recognises the index's own condition (SQLite compares them).
RESTRICTED = sa.or_(Sighting.no_cross_border, sa.not_(EXCLUDES_NOBODY))
sa.Index("ix_sightings_restricted", Sighting.id, postgresql_where=RESTRICTED, sqlite_where=RESTRICTED)


class BlindIndexEntry(IdMixin, Base):
    """One blind-index value of one record: lets the database find candidates without plaintext."""

    __tablename__ = "blind_index_entries"
    # PostgreSQL reads a search's rows from the index alone (its other columns are carried in it):
    # the rows of common names are scattered over the table's pages.
    __table_args__ = (
        sa.Index(
            "ix_blind_index_lookup",
            "index_name",
            "index_version",
            "value",
            postgresql_include=["key_version", "record_type", "society_id", "record_id"],
        ),
    )

    record_type: Mapped[str] = mapped_column(sa.String(32))
    record_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    society_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    index_name: Mapped[str] = mapped_column(sa.String(32))
    index_version: Mapped[int]
    # The ring's index-key version that computed ``value``: searches query every version in use, so
    # rotating the index key (rebuild beside, then swap) never hides a record.
    key_version: Mapped[int]
    value: Mapped[bytes] = mapped_column(sa.LargeBinary(32))


class RecordEdit(IdMixin, Base):
    """Edit history: who changed which fields of which record version, never the values."""

    __tablename__ = "record_edits"

    record_type: Mapped[str] = mapped_column(sa.String(32))
    record_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    version: Mapped[int]
    actor_user_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    changed_fields: Mapped[list[str]] = mapped_column(sa.JSON)
    edited_at: Mapped[CreatedAt]
