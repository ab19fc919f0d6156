"""Where imports run: the command line's own process, or (an upload) the same machinery as matching
proposals: an outbox message about the job, drained after the upload's response in this process or
relayed to the Celery workers (``rfl.matches.tasks``).

The file is read and every record checked before anything is written; then the records are created
in batches of ``RFL_IMPORT_BATCH``, each batch in its own committed transaction with the job's
counts. The outbox message is deleted only once the job has ended, so a job whose process died is
taken again (next drain, or the Celery sweep) and goes on where it stopped: records already imported
are recognised by their source keys.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from rfl.accounts.models import User
from rfl.accounts.services import actor_of
from rfl.audit.recorder import audited_transaction
from rfl.db import db
from rfl.errors import ValidationFailed
from rfl.exchange import services as exchange
from rfl.exchange.models import IMPORT_REQUESTED, ImportJob, ImportMode, ImportStatus
from rfl.exchange.pfif import Incoming, Problem
from rfl.exchange.schemas import validate_record
from rfl.extensions import app_services
from rfl.identity import Actor
from rfl.matches.settings import Executor
from rfl.outbox import services as outbox

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# An import's message is taken at most this often: a take after the last failed attempt (a crash
# during it) still marks the import failed and ends the message.
MESSAGE_TAKES = MAX_ATTEMPTS + 1


@dataclass(frozen=True)
class ImportSummary:
    job_id: uuid.UUID
    status: ImportStatus
    total: int
    imported: int
    already_present: int
    rejected: int
    report: list[dict[str, Any]]


def _actor(job: ImportJob) -> Actor:
    with db.transaction() as session:
        return actor_of(session.get_one(User, job.created_by))


def run_import(job_id: uuid.UUID, data: bytes, *, progress: Any = None) -> ImportSummary:
    """Import ``data`` for the job: check everything, then create the valid records batch by batch.

    ``progress`` (a tqdm bar, or None) is given the number of records to create as its total and
    advanced after each committed batch.
    """
    services = app_services()
    settings = services.settings
    with db.transaction() as session:
        job = session.get_one(ImportJob, job_id)
        session.expunge(job)
    actor = _actor(job)
    try:
        incoming, problems = exchange.read_file(
            job.format,
            data,
            mapping=exchange.job_mapping(job),
            legal_basis=job.legal_basis,
            secret=settings.secret_key,
        )
    except ValidationFailed as refused:
        report = [Problem(0, name, str(why)) for name, reasons in refused.errors.items() for why in reasons]
        return _finish(job_id, ImportStatus.REJECTED, actor, report=report)
    valid, problems = exchange.validated(incoming, problems, validate_record)
    positions = {record.position for record in incoming} | {problem.position for problem in problems}
    with audited_transaction() as (session, _audit):
        exchange.begin_run(
            session,
            session.get_one(ImportJob, job_id),
            total=len(positions),
            problems=problems,
            now=services.clock(),
        )
    if problems and job.mode is ImportMode.ALL_OR_NOTHING:
        return _finish(job_id, ImportStatus.REJECTED, actor)
    if progress is not None:
        progress.reset(total=len(valid))
    for start in range(0, len(valid), settings.import_batch):
        batch = valid[start : start + settings.import_batch]
        _import_batch(job_id, actor, batch)
        if progress is not None:
            progress.update(len(batch))
    return _finish(job_id, ImportStatus.DONE, actor)


def _import_batch(job_id: uuid.UUID, actor: Actor, batch: list[Incoming]) -> None:
    services = app_services()
    with audited_transaction() as (session, audit):
        job = session.get_one(ImportJob, job_id)
        exchange.import_batch(
            session,
            services.crypto(session),
            actor,
            job,
            batch,
            secret=services.settings.secret_key,
            now=services.clock(),
            audit=audit,
        )


def _finish(
    job_id: uuid.UUID, status: ImportStatus, actor: Actor | None, *, report: list[Problem] | None = None
) -> ImportSummary:
    services = app_services()
    with audited_transaction() as (session, audit):
        job = session.get_one(ImportJob, job_id)
        exchange.finish_job(
            session,
            services.crypto(session),
            job,
            status=status,
            actor=actor,
            now=services.clock(),
            audit=audit,
            report=report,
        )
        return ImportSummary(
            job.id, job.status, job.total, job.imported, job.already_present, job.rejected, list(job.report)
        )


# --- uploads: jobs taken from the outbox --------------------------------------------------------------


def process_import_message(message_id: uuid.UUID) -> None:
    """Run the import a message is about and delete the message; safe to call twice (a repeated relay
    finds the message gone, or the job ended)."""
    with db.transaction() as session:
        message = outbox.take(session, message_id)
        if message is None:
            return
        job_id, attempts = message.object_id, message.attempts
        services = app_services()
        job = session.get(ImportJob, job_id)
        if job is not None and _worked_on(job):
            message.attempts -= 1  # another worker has it (a repeated relay): not an attempt of ours
            return
        data = None if job is None else exchange.job_payload(services.crypto(session), job)
    try:
        if data is not None:
            run_import(job_id, data)
    except Exception as error:
        # The type only: a message may quote data.
        log.error("import_failed", extra={"exception_type": type(error).__qualname__})
        if attempts < MAX_ATTEMPTS:
            raise
        _finish(job_id, ImportStatus.FAILED, None)
    with db.transaction() as session:
        message = outbox.take(session, message_id)
        if message is not None:
            outbox.complete(session, [message])
    if app_services().settings.matching.executor is Executor.CELERY:
        from rfl.matches.tasks import relay

        relay()  # the imported records' proposals, now rather than at the next sweep


def _worked_on(job: ImportJob) -> bool:
    services = app_services()
    recently = services.clock() - services.settings.matching.relay_again_after
    return job.status is ImportStatus.RUNNING and job.updated_at > recently


def drain_imports() -> int:
    """Take the uploaded imports waiting in the outbox, oldest first, each at most once; returns how
    many were taken (run, or left to the worker already on them)."""
    seen: set[uuid.UUID] = set()
    while True:
        with db.transaction() as session:
            ids = [
                message_id
                for message_id in outbox.pending_ids(
                    session, IMPORT_REQUESTED, limit=len(seen) + 1, max_attempts=MESSAGE_TAKES
                )
                if message_id not in seen
            ]
        if not ids:
            return len(seen)
        seen.add(ids[0])
        with contextlib.suppress(Exception):  # logged by type; the message waits for the next drain
            process_import_message(ids[0])
