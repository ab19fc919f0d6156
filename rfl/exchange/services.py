"""Imports and exports.

An import reads the whole file first (a file refused as a whole imports nothing), validates every
record with the API's rules (the ``Validate`` function the caller passes: the records' own schemas),
and then, unless the mode is all-or-nothing and something was rejected, creates the records in
batches, each committed by the caller. Each record is created by the records service exactly as over
HTTP (encrypted, indexed, audited, queued for matching), together with the keyed hash of its source id
in the same transaction: a record is imported exactly when its source id is kept, so a re-run after a
kill, or the same file again, skips what is there and imports each record once.

An export holds what the caller's society may share with RFL partners: its own tracing requests still
searched for, and its sightings whose found person's consent in force names ``partners`` as recipient
(saying someone was found is a disclosure, rule 1). Only identity fields leave, never whereabouts,
contact details or identifiers; each record exported is audited.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy import ConsentStatus, DecryptionError, Subject, keyed_hash
from privacy.consent import latest_consent
from rfl.audit.entries import Action, AuditEntry, AuditSink, Outcome
from rfl.consent.models import PARTNERS, Consent
from rfl.consent.services import as_policy_record, verified
from rfl.crypto import Crypto
from rfl.errors import NotFound
from rfl.exchange import pfif, tabular
from rfl.exchange.models import (
    IMPORT_REQUESTED,
    ImportedRecord,
    ImportFormat,
    ImportJob,
    ImportMode,
    ImportStatus,
)
from rfl.exchange.pfif import Incoming, Problem, Shared
from rfl.identity import Actor
from rfl.outbox.services import enqueue
from rfl.records import services as records
from rfl.records.models import FINAL_STATUSES, LegalBasis, RecordMixin, Sighting, TracingRequest
from rfl.records.seals import Seals
from rfl.retention import services as retention
from rfl.retention.policy import RetentionPolicy

# (record type, document) -> (the loaded document, or None and the problems as (field, reason)).
Validate = Callable[[str, Mapping[str, Any]], tuple[dict[str, Any] | None, list[tuple[str, str]]]]

PAYLOAD_TABLE = ImportJob.__tablename__
PAYLOAD_COLUMN = "payload"
MAX_REPORTED = 10_000  # rejected records listed in a report (all are counted)


def source_key(secret: str, society_id: uuid.UUID, source_id: str) -> bytes:
    """The keyed hash a record's source id is kept as (unique per society)."""
    return keyed_hash(secret.encode("utf-8"), "import-source", str(society_id), source_id.strip())


# --- reading and checking a file --------------------------------------------------------------------


def read_file(
    file_format: ImportFormat,
    data: bytes,
    *,
    mapping: tabular.ColumnMapping | None,
    legal_basis: LegalBasis,
    secret: str,
) -> tuple[list[Incoming], list[Problem]]:
    """The records of a file and the problems of those that cannot even be made documents;
    ValidationFailed when the file is refused as a whole."""
    if file_format is ImportFormat.PFIF:
        return pfif.documents(pfif.parse(data), legal_basis.value)
    if mapping is None:
        raise ValueError("a CSV import needs a column mapping")

    def row_hash(text: str) -> str:
        return keyed_hash(secret.encode("utf-8"), "import-row", text).hex()[:32]

    return tabular.read_rows(data, mapping, legal_basis.value, secret_hash=row_hash)


def validated(
    records: Sequence[Incoming], problems: Sequence[Problem], validate: Validate
) -> tuple[list[Incoming], list[Problem]]:
    """The records that pass the API's rules (as loaded by them), and every problem in file order."""
    valid: list[Incoming] = []
    found = list(problems)
    for record in records:
        loaded, errors = validate(record.kind, record.document)
        if loaded is None:
            found.extend(Problem(record.position, name, reason) for name, reason in errors)
        else:
            valid.append(Incoming(record.position, record.source_id, record.kind, loaded))
    found.sort(key=lambda problem: (problem.position, problem.field))
    return valid, found


# --- jobs -------------------------------------------------------------------------------------------


def _job_subject(job: ImportJob) -> Subject:
    return Subject(ring_id=str(job.society_id), subject_id=f"import-{job.id}")


def start_job(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    *,
    file_format: ImportFormat,
    mode: ImportMode,
    legal_basis: LegalBasis,
    mapping: tabular.ColumnMapping | None,
    payload: bytes | None,
    audit: AuditSink,
) -> ImportJob:
    """A new import job; an uploaded file is kept encrypted under a key of the job's own until it ends."""
    job = ImportJob(
        id=uuid.uuid4(),
        society_id=actor.society_id,
        created_by=actor.user_id,
        format=file_format,
        mode=mode,
        legal_basis=legal_basis,
        status=ImportStatus.QUEUED if payload is not None else ImportStatus.RUNNING,
        mapping=None if mapping is None else mapping.as_json(),
        report=[],
    )
    if payload is not None:
        job.payload = crypto.vault.encrypt(
            _job_subject(job),
            PAYLOAD_TABLE,
            PAYLOAD_COLUMN,
            str(job.id),
            base64.b64encode(payload).decode("ascii"),
        )
    session.add(job)
    session.flush()
    if payload is not None:
        enqueue(session, IMPORT_REQUESTED, "import_job", job.id)
    audit(_job_event(Action.IMPORT_START, actor, job, (f"format:{file_format}", f"mode:{mode}")))
    return job


def _job_event(
    action: Action, actor: Actor | None, job: ImportJob, fields: Sequence[str], outcome: Outcome = Outcome.OK
) -> AuditEntry:
    return AuditEntry(
        action,
        outcome=outcome,
        actor=actor,
        owner_society_id=job.society_id,
        object_type="import_job",
        object_id=str(job.id),
        fields=(*fields, f"legal_basis:{job.legal_basis}"),
    )


def job_payload(crypto: Crypto, job: ImportJob) -> bytes | None:
    """The uploaded file of a job, decrypted in memory (None once the job has ended)."""
    if job.payload is None:
        return None
    text = crypto.vault.decrypt(_job_subject(job), PAYLOAD_TABLE, PAYLOAD_COLUMN, str(job.id), job.payload)
    return base64.b64decode(str(text))


def job_mapping(job: ImportJob) -> tabular.ColumnMapping | None:
    return None if job.mapping is None else tabular.column_mapping(job.mapping)


def begin_run(
    session: Session, job: ImportJob, *, total: int, problems: Sequence[Problem], now: datetime
) -> None:
    """Record what checking the file found; a re-run starts its counts again (what the earlier run
    imported is counted as imported by this job when the batches meet it)."""
    job.status = ImportStatus.RUNNING
    job.total = total
    job.rejected = len({problem.position for problem in problems})
    job.report = [problem.as_dict() for problem in problems[:MAX_REPORTED]]
    job.imported = 0
    job.already_present = 0
    job.updated_at = now
    session.flush()


@dataclass(frozen=True)
class BatchResult:
    imported: int
    already_present: int


def import_batch(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    job: ImportJob,
    batch: Sequence[Incoming],
    *,
    secret: str,
    now: datetime,
    audit: AuditSink,
) -> BatchResult:
    """Create the records of ``batch`` that are not there yet, each with its source key."""
    keys = {record.source_id: source_key(secret, actor.society_id, record.source_id) for record in batch}
    known = {
        row.source_key: row.job_id
        for row in session.execute(
            sa.select(ImportedRecord.source_key, ImportedRecord.job_id).where(
                ImportedRecord.society_id == actor.society_id,
                ImportedRecord.source_key.in_(list(keys.values())),
            )
        )
    }
    created = redone = already = 0
    for record in batch:
        key = keys[record.source_id]
        if key in known:
            if known[key] == job.id:
                redone += 1  # this job's earlier run, killed after that batch committed
            else:
                already += 1
            continue
        view = records.create_record(
            session, crypto, actor, records.kind_named(record.kind), record.document, now=now, audit=audit
        )
        session.add(
            ImportedRecord(
                society_id=actor.society_id,
                source_key=key,
                record_type=record.kind,
                record_id=view.id,
                job_id=job.id,
            )
        )
        known[key] = job.id
        created += 1
    session.flush()
    job.imported += created + redone
    job.already_present += already
    job.updated_at = now
    return BatchResult(created + redone, already)


def finish_job(
    session: Session,
    crypto: Crypto,
    job: ImportJob,
    *,
    status: ImportStatus,
    actor: Actor | None,
    now: datetime,
    audit: AuditSink,
    report: Sequence[Problem] | None = None,
) -> None:
    """End a job: its status, its end time, its file's key destroyed; audited with its counts."""
    if report is not None:
        job.report = [problem.as_dict() for problem in report[:MAX_REPORTED]]
    job.status = status
    job.finished_at = now
    if job.payload is not None:
        job.payload = None
        crypto.vault.shred(_job_subject(job))
    session.flush()
    counts = (
        f"status:{status}",
        f"total:{job.total}",
        f"imported:{job.imported}",
        f"already_present:{job.already_present}",
        f"rejected:{job.rejected}",
    )
    outcome = Outcome.OK if status is ImportStatus.DONE else Outcome.FAILED
    audit(_job_event(Action.IMPORT_FINISH, actor, job, counts, outcome))


def read_job(session: Session, actor: Actor, job_id: uuid.UUID, *, audit: AuditSink) -> ImportJob:
    """A job of the actor's society; another society's answers NotFound (audited), like an unknown id."""
    job = session.get(ImportJob, job_id)
    if job is None or job.society_id != actor.society_id:
        if job is not None:
            audit(_job_event(Action.IMPORT_READ, actor, job, (), Outcome.DENIED))
        raise NotFound("No such import.")
    return job


# --- export -----------------------------------------------------------------------------------------


def shared_records(
    session: Session,
    crypto: Crypto,
    actor: Actor,
    *,
    fields: Sequence[str],
    retention_defaults: RetentionPolicy,
    now: datetime,
    audit: AuditSink,
) -> list[Shared]:
    """What the actor's society may share with partners, oldest first, with the identity ``fields``
    that leave (audited per record by name) and the day partners must delete their copy; records
    whose person was erased are left out."""
    shared: list[Shared] = []
    kept: list[RecordMixin] = []
    requests = session.scalars(
        sa.select(TracingRequest)
        .where(
            TracingRequest.society_id == actor.society_id,
            TracingRequest.status.not_in(list(FINAL_STATUSES)),
        )
        .order_by(TracingRequest.created_at, TracingRequest.id)
    )
    for request in requests:
        person = _identity(crypto, records.TRACING_REQUESTS, request, fields)
        if person is not None:
            shared.append(_shared(actor, request, "tracing_request", person, "information_sought"))
            kept.append(request)
    for sighting in _consented_sightings(session, crypto, actor, now=now, audit=audit):
        person = _identity(crypto, records.SIGHTINGS, sighting, fields)
        if person is not None:
            status = "believed_dead" if sighting.deceased else "believed_alive"
            shared.append(_shared(actor, sighting, "sighting", person, status))
            kept.append(sighting)
    expiry = retention.copy_expiry(session, actor.society_id, retention_defaults, kept, now=now)
    shared = [replace(item, expires_on=expiry[record.id]) for item, record in zip(shared, kept, strict=True)]
    for item in shared:
        kind = records.kind_named(item.kind)
        shown = tuple(f"{kind.person_group}.{name}" for name in fields if item.person.get(name) is not None)
        audit(
            AuditEntry(
                Action.on(item.kind, "export"),
                actor=actor,
                owner_society_id=actor.society_id,
                object_type=item.kind,
                object_id=item.record_id,
                fields=shown,
            )
        )
    return shared


def _shared(actor: Actor, record: RecordMixin, kind: str, person: dict[str, Any], status: str) -> Shared:
    return Shared(str(record.id), kind, actor.society_code, person, status, record.created_at)


def _identity(
    crypto: Crypto, kind: records.RecordType, record: RecordMixin, fields: Sequence[str]
) -> dict[str, Any] | None:
    try:
        identity = records.read_identity(crypto, kind, record)
    except DecryptionError:
        return None  # erased (crypto-shredded): nothing left to share
    return {name: identity[name] for name in fields if identity.get(name) is not None}


def _consented_sightings(
    session: Session, crypto: Crypto, actor: Actor, *, now: datetime, audit: AuditSink
) -> list[Sighting]:
    """The society's sightings whose consent in force for ``partners`` was given and has not expired,
    and that carry no protection restriction."""
    consents = session.scalars(
        sa.select(Consent)
        .where(Consent.society_id == actor.society_id, Consent.recipient == PARTNERS)
        .order_by(Consent.recorded_at, Consent.id)
    ).all()
    by_sighting: dict[uuid.UUID, list[Consent]] = {}
    for consent in verified(crypto, consents, audit):
        by_sighting.setdefault(consent.sighting_id, []).append(consent)
    allowed = []
    for sighting_id, rows in by_sighting.items():
        latest = latest_consent([as_policy_record(row) for row in rows], PARTNERS)
        if (
            latest is not None
            and latest.status is ConsentStatus.GIVEN
            and latest.scope
            and latest.recorded_at <= now
            and (latest.expires_at is None or now < latest.expires_at)
        ):
            allowed.append(sighting_id)
    if not allowed:
        return []
    sightings = session.scalars(
        sa.select(Sighting)
        .where(Sighting.id.in_(allowed), Sighting.society_id == actor.society_id)
        .order_by(Sighting.created_at, Sighting.id)
    )
    seals = Seals(crypto, audit, actor)
    shared = []
    for sighting in sightings:
        protection = seals.protection(sighting)  # a broken seal reads as the most restrictive values
        if protection.no_cross_border or protection.exclude:
            # Rule 10: a protected person never leaves for partners (who receives an export cannot be
            # held to an exclusion list); withholding it is audited like any restriction applied.
            audit(
                AuditEntry(
                    Action.SIGHTING_RESTRICTION_APPLIED,
                    outcome=Outcome.DENIED,
                    actor=actor,
                    owner_society_id=sighting.society_id,
                    object_type="sighting",
                    object_id=str(sighting.id),
                )
            )
            continue
        shared.append(sighting)
    return shared


def export_event(actor: Actor, file_format: str, count: int) -> AuditEntry:
    return AuditEntry(
        Action.EXPORT_RUN,
        actor=actor,
        owner_society_id=actor.society_id,
        object_type="export",
        fields=(f"format:{file_format}", f"records:{count}"),
    )
