"""Import jobs and the source ids of imported records.

An imported record's source id (a PFIF ``person_record_id`` such as ``example.org/person.17``, or a
CSV list's ``<source_domain>/<id>``) is kept only as a keyed hash, bound to the importing society: it
is enough to recognise the same record when the same file comes again, and it cannot be read back to
re-identify the person in the partner's system if the database leaks.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from rfl.db import Base, CreatedAt, IdMixin, UpdatedAt, UTCDateTime, enum_column
from rfl.records.models import LegalBasis


class ImportFormat(StrEnum):
    PFIF = "pfif"
    CSV = "csv"


class ImportMode(StrEnum):
    # Records that pass validation are imported; the rejected ones are listed in the report.
    VALID_ONLY = "valid_only"
    # One rejected record and nothing of the file is imported.
    ALL_OR_NOTHING = "all_or_nothing"


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    # All-or-nothing and some record was rejected, or the file itself was refused: nothing imported.
    REJECTED = "rejected"
    FAILED = "failed"


class ImportJob(IdMixin, Base):
    """One import of one file: its parameters, progress, counts and report (positions, field names and
    reasons only, never values). An upload's file is kept encrypted under a data key of the job's own
    until the job ends, then the key is destroyed."""

    __tablename__ = "import_jobs"

    society_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("societies.id"), index=True)
    created_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    format: Mapped[ImportFormat] = mapped_column(enum_column(ImportFormat, "import_format"))
    mode: Mapped[ImportMode] = mapped_column(enum_column(ImportMode, "import_mode"))
    legal_basis: Mapped[LegalBasis] = mapped_column(enum_column(LegalBasis, "legal_basis"))
    status: Mapped[ImportStatus] = mapped_column(enum_column(ImportStatus, "import_status"))
    # The CSV column mapping (column names and field names: no personal data).
    mapping: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    payload: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    total: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    already_present: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    report: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[CreatedAt]
    # Moves with every committed batch: a running job changed within the relay interval is being
    # worked on, and a second delivery of its message leaves it alone.
    updated_at: Mapped[UpdatedAt]
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ImportedRecord(Base):
    """A record that came from a file, by the keyed hash of its source id (unique per society)."""

    __tablename__ = "imported_records"

    society_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("societies.id"), primary_key=True)
    source_key: Mapped[bytes] = mapped_column(sa.LargeBinary(32), primary_key=True)
    record_type: Mapped[str] = mapped_column(sa.String(32))
    record_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    job_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("import_jobs.id"), index=True)
    created_at: Mapped[CreatedAt]

    def __repr__(self) -> str:
        return f"<ImportedRecord record_id={self.record_id}>"


# The outbox topic of an uploaded file waiting to be imported (the object is the import job).
IMPORT_REQUESTED = "import.requested"
