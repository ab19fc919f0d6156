"""Where proposals run: after the saving request's response in the same process (the embedded
default), or in Celery workers fed from the outbox (beyond one machine).

Outbox messages are processed a batch at a time, in a transaction that also deletes them: the
proposals exist exactly when the message is gone. A message that fails is kept, its attempts counted,
and retried by the next drain or sweep until ``MAX_ATTEMPTS``; after that it waits for an operator
(``/healthz`` shows the backlog).
"""

from __future__ import annotations

import gc
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask, Response
from sqlalchemy.orm import Session

from rfl.audit.recorder import audited_transaction
from rfl.db import db, is_conflict, is_unavailable
from rfl.extensions import app_services
from rfl.matches.catalogue import Catalogue
from rfl.matches.models import MatchRunChunk
from rfl.matches.proposals import Proposer, propose_many
from rfl.matches.settings import Executor
from rfl.matches.store import current_matcher
from rfl.outbox import services as outbox
from rfl.outbox.models import OutboxMessage
from rfl.records.canonical import MATCHED_FIELDS_CHANGED
from rfl.records.models import RecordStatus, TracingRequest
from rfl.records.services import SIGHTINGS, TRACING_REQUESTS

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Messages the process that answered a request drains afterwards; a longer backlog is left to the next
# request, ``rfl match drain`` or the workers, so no worker process is held up for long.
DRAIN_AFTER_RESPONSE = 50


@dataclass
class DrainReport:
    processed: int = 0
    proposed: int = 0
    failed: int = 0


def process_messages(
    message_ids: Sequence[uuid.UUID],
    report: DrainReport,
    proposer: Proposer | None = None,
    *,
    skip_locked: bool = False,
) -> set[uuid.UUID]:
    """Propose for the records the messages are about and delete the messages; returns the ids of
    those it completed (a message gone already, or held by another drain, is not among them).

    The messages are done in one transaction: each step of the proposals reads what all their records
    need at once (as a re-scoring run's chunk does). A batch that fails is done again one message a
    transaction, so the message that fails holds up none of the others and has its attempt counted;
    after ``MAX_ATTEMPTS`` it waits for an operator. Only a database that cannot serve now raises
    (nothing is counted against any message). ``proposer``: the one a job processing many batches
    shares. Safe to call twice for a message (a repeated relay): the second call finds it gone. With
    ``skip_locked`` a message another worker is processing is left to it (a drain), not waited for.
    """
    try:
        return _propose_and_complete(message_ids, report, proposer, skip_locked=skip_locked)
    except Exception as error:
        # Two batches proposing the same pairs (a request's message in one, its sighting's in the
        # other) may deadlock: the one PostgreSQL undid is redone a message at a time.
        if is_unavailable(error) and not (is_conflict(error) and len(message_ids) > 1):
            raise  # the database's state, not the messages' failure
        if len(message_ids) == 1:
            # The type only: a message may quote data.
            log.error("proposal_failed", extra={"exception_type": type(error).__qualname__})
            _count_failed_attempt(message_ids[0])
            report.failed += 1
            return set()
    done: set[uuid.UUID] = set()
    for message_id in message_ids:
        done |= process_messages([message_id], report, proposer, skip_locked=skip_locked)
    return done


def _propose_and_complete(
    message_ids: Sequence[uuid.UUID], report: DrainReport, proposer: Proposer | None, *, skip_locked: bool
) -> set[uuid.UUID]:
    services = app_services()
    proposer = proposer or Proposer()
    stored = 0
    with audited_transaction() as (session, audit):
        messages = outbox.take_many(session, message_ids, skip_locked=skip_locked)
        if not messages:
            return set()
        crypto = services.crypto(session)
        matcher = current_matcher(session, crypto)
        for kind_name, record_ids in _records_by_kind(messages).items():
            stored += propose_many(
                session,
                crypto,
                matcher,
                kind_name,
                record_ids,
                limits=services.settings.matching,
                audit=audit,
                proposer=proposer,
            ).stored
        done = {message.id for message in messages}
        outbox.complete(session, messages)
    report.processed += len(done)
    report.proposed += stored
    return done


def _records_by_kind(messages: Sequence[OutboxMessage]) -> dict[str, list[uuid.UUID]]:
    """The records the messages are about, by kind, each once (a record saved twice has two)."""
    subjects: dict[str, dict[uuid.UUID, None]] = {}
    for message in messages:
        subjects.setdefault(message.object_type, {})[message.object_id] = None
    return {kind: list(ids) for kind, ids in subjects.items()}


def drain(*, limit: int | None = None, progress: Callable[[int], object] | None = None) -> DrainReport:
    """Process waiting proposals in this process, oldest first (at most ``limit`` messages), a batch
    of ``drain_batch`` messages a transaction.

    A database that cannot serve now (a lock held past the wait by another process, a lost connection)
    ends the drain early without counting an attempt against any message: the rest waits for the next
    drain or the sweep.
    """
    report = DrainReport()
    try:
        _drain_into(report, limit, progress)
    except Exception as error:
        if not is_unavailable(error):
            raise
        log.warning("drain_paused", extra={"exception_type": type(error).__qualname__})
    return report


def _drain_into(report: DrainReport, limit: int | None, progress: Callable[[int], object] | None) -> None:
    batch = app_services().settings.matching.drain_batch
    proposer = Proposer()  # a record read for one batch is not read again for the next
    passed_over: set[uuid.UUID] = set()  # failed here, or held by another worker
    while limit is None or report.processed + report.failed < limit:
        # Listing takes no write lock: on SQLite another process's long proposal does not block it.
        with db.transaction(read_only=True) as session:
            ids = [
                message_id
                for message_id in outbox.pending_ids(
                    session, MATCHED_FIELDS_CHANGED, limit=batch + len(passed_over), max_attempts=MAX_ATTEMPTS
                )
                if message_id not in passed_over
            ][:batch]
        if limit is not None:
            ids = ids[: limit - report.processed - report.failed]
        if not ids:
            return
        # Two drains see the same oldest messages: each leaves to the other what it holds.
        done = process_messages(ids, report, proposer, skip_locked=True)
        passed_over.update(set(ids) - done)
        if progress is not None and done:
            progress(len(done))


def _count_failed_attempt(message_id: uuid.UUID) -> None:
    with db.transaction() as session:
        session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(attempts=OutboxMessage.attempts + 1)
        )


@dataclass
class Handoff:
    """The outbox messages a request enqueued, to hand on once it committed and answered: on the
    embedded default the process drains the outbox; on Celery it publishes them (``marked``: marked
    relayed in the request's own transaction)."""

    app: Flask
    marked: list[tuple[uuid.UUID, str]] = field(default_factory=list)

    @property
    def executor(self) -> Executor:
        return app_services(self.app).settings.matching.executor

    def after(self, response: Response) -> None:
        """Once ``response`` has gone to the client, drain or publish."""
        response.call_on_close(self._work)

    def _work(self) -> None:
        with self.app.app_context():
            try:
                if self.executor is Executor.PROCESS:
                    from rfl.exchange.worker import drain_imports

                    drain_imports()  # an upload's import, whose records then wait for proposals too
                    drain(limit=DRAIN_AFTER_RESPONSE)
                else:
                    from rfl.matches.tasks import publish

                    publish(self.marked)
            except Exception as error:
                log.error("outbox_work_failed", extra={"exception_type": type(error).__qualname__})


def hand_on(app: Flask, session: Session | None) -> Handoff | None:
    """Prepare to hand on what a writing request's ``session`` enqueued (None: nothing; a request
    that enqueued no message leaves the outbox alone). Call before the request commits: on Celery the
    messages are marked relayed in its transaction, so they are committed marked (the sweep relays
    them again if the process dies before publishing)."""
    enqueued = [] if session is None else outbox.enqueued(session)
    if session is None or not enqueued:
        return None
    handoff = Handoff(app)
    if handoff.executor is Executor.CELERY:
        handoff.marked = outbox.mark_relayed(session, enqueued, now=app_services(app).clock())
    return handoff


def rescore_chunk(run_id: uuid.UUID, number: int) -> int:
    """Re-score the open tracing requests of one chunk of a run and mark it done, in one transaction;
    returns the candidates stored or changed (0 for a chunk already done).

    The chunks of one run that a process takes share one proposer, so a sighting is decrypted once
    per process and run, not once for each request it is a candidate of, and blocking runs against
    every open sighting in memory (a :class:`Catalogue`), not the blind index; it is dropped when the
    process finds no chunk of the run left to do.
    """
    services = app_services()
    with _cycle_collection_paused(), audited_transaction() as (session, audit):
        chunk = session.get(MatchRunChunk, (run_id, number), with_for_update=True)
        if chunk is None or chunk.done_at is not None:
            return 0
        crypto = services.crypto(session)
        matcher = current_matcher(session, crypto)
        requests = session.scalars(
            sa.select(TracingRequest.id)
            .where(
                TracingRequest.id >= chunk.first_request_id,
                TracingRequest.id <= chunk.last_request_id,
                TracingRequest.status != RecordStatus.CLOSED,
            )
            .order_by(TracingRequest.id)
        ).all()
        report = propose_many(
            session,
            crypto,
            matcher,
            TRACING_REQUESTS.name,
            requests,
            limits=services.settings.matching,
            audit=audit,
            proposer=_run_proposer(run_id),
        )
        chunk.done_at = services.clock()
    if not _chunks_left(run_id):
        _RUN_PROPOSERS.pop(run_id, None)
    return report.stored


@contextmanager
def _cycle_collection_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for the block. A chunk allocates millions of small
    objects beside the run's large, long-lived heap (every sighting decrypted and keyed), and each full
    collection those allocations set off walks all of it: a sixth of a run's time at 10k x 10k. What a
    chunk leaves in cycles is collected as usual once the block ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# The proposer of the run this process is re-scoring (one at a time: a newer run replaces it).
_RUN_PROPOSERS: dict[uuid.UUID, Proposer] = {}


def _run_proposer(run_id: uuid.UUID) -> Proposer:
    proposer = _RUN_PROPOSERS.get(run_id)
    if proposer is None:
        _RUN_PROPOSERS.clear()
        proposer = _RUN_PROPOSERS[run_id] = Proposer(catalogue=Catalogue(SIGHTINGS))
    return proposer


def _chunks_left(run_id: uuid.UUID) -> bool:
    with db.transaction(read_only=True) as session:
        left = sa.select(MatchRunChunk.number).where(
            MatchRunChunk.run_id == run_id, MatchRunChunk.done_at.is_(None)
        )
        return session.scalar(left.limit(1)) is not None
