"""``rfl match ...``: drain the outbox, re-score everything, fit a model, show where matching stands,
run Celery workers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import click
import sqlalchemy as sa
from flask.cli import AppGroup
from sqlalchemy.orm import Session
from tqdm import tqdm

from rfl.audit.entries import Action, AuditEntry
from rfl.audit.recorder import audited_transaction
from rfl.db import db
from rfl.extensions import app_services
from rfl.matches import fitting
from rfl.matches.models import MatchCandidate, MatchRun, MatchRunChunk
from rfl.matches.settings import Executor
from rfl.matches.store import active_version, current_matcher
from rfl.matches.worker import drain, rescore_chunk
from rfl.outbox.services import backlog
from rfl.records import services as records
from rfl.records.models import RecordMixin, RecordStatus, Sighting, TracingRequest

RUN_BATCH = 50  # tracing requests in a chunk of a re-scoring run on SQLite, and records reindexed at once
# On PostgreSQL a chunk's transaction holds up no one (only the candidates it writes are locked), and a
# larger chunk shares more of its reads and pays a chunk's own work (the catalogue compared with every
# open sighting's version) fewer times: at 10k x 10k, 500 requests a chunk re-score 1.9x as many per
# second as 50, and 2000 take 0.85-0.91x the time of 500 (170 MB more memory). On SQLite a chunk holds
# the one write lock throughout: saves wait for it.
RUN_BATCH_SHARED_STORE = 2000
POLL_SECONDS = 1.0


@click.group("match", cls=AppGroup)
def match_group() -> None:
    """Match proposals: drain, re-score, fit the model, statistics, workers."""


@match_group.command("drain")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many waiting messages.")
def match_drain(limit: int | None) -> None:
    """Propose now for every record waiting in the outbox (what runs after each save)."""
    with tqdm(desc="proposals", unit="record", disable=None) as bar:
        report = drain(limit=limit, progress=bar.update)
    click.echo(
        f"{report.processed} records proposed for, {report.proposed} candidates stored, "
        f"{report.failed} failed"
    )


@match_group.command("run")
@click.option("--restart", is_flag=True, help="Start a new run even if an interrupted one could be resumed.")
@click.option(
    "--reindex", is_flag=True, help="First rebuild every record's blind-index rows (after an upgrade)."
)
@click.option(
    "--wait-seconds",
    type=click.IntRange(1),
    default=24 * 3600,
    show_default=True,
    help="With Celery workers.",
)
def match_run(restart: bool, reindex: bool, wait_seconds: int) -> None:
    """Re-score every open tracing request against the sightings with the current model.

    The requests are split into chunks (in id order). With RFL_MATCHING_EXECUTOR=celery the chunks go
    to the workers, on as many machines as run them, and this command follows their progress;
    otherwise this process takes them one after the other. Idempotent (an unchanged pair keeps its
    candidate) and resumable: after a kill, run it again and only the chunks not done are taken.
    """
    services = app_services()
    if reindex:
        _reindex_all()
    with db.transaction() as session:
        run = _run_to_resume(session, restart)
        run_id, version, total = run.id, run.model_version, run.total_requests
    stored = 0
    with tqdm(
        total=total, initial=_requests_done(run_id), desc="re-scoring", unit="request", disable=None
    ) as bar:
        if services.settings.matching.executor is Executor.CELERY:
            _follow_the_workers(run_id, bar, deadline=time.monotonic() + wait_seconds)
        else:
            for number in _chunks_to_do(run_id):
                stored += rescore_chunk(run_id, number)
                bar.update(_requests_done(run_id) - bar.n)
    with audited_transaction() as (session, audit):
        run = session.get_one(MatchRun, run_id)
        run.finished_at = services.clock()
        audit(AuditEntry(Action.MATCH_RUN, object_type="match_run", object_id=str(run.id)))
    click.echo(
        f"re-scored {total} tracing requests with model {version}: {stored} candidates stored or changed"
    )


def _follow_the_workers(run_id: uuid.UUID, bar: tqdm[Any], *, deadline: float) -> None:
    from rfl.matches.tasks import publish_chunks

    publish_chunks(run_id, _chunks_to_do(run_id))
    while _chunks_to_do(run_id):
        if time.monotonic() > deadline:
            raise click.ClickException(
                "the workers did not finish in time; run `rfl match run` again to resume"
            )
        time.sleep(POLL_SECONDS)
        bar.update(_requests_done(run_id) - bar.n)
    bar.update(_requests_done(run_id) - bar.n)


def _run_to_resume(session: Session, restart: bool) -> MatchRun:
    version = active_version(session) or current_matcher(session, app_services().crypto(session)).version
    unfinished = session.scalar(
        sa.select(MatchRun)
        .where(MatchRun.finished_at.is_(None), MatchRun.model_version == version)
        .order_by(MatchRun.created_at.desc())
        .limit(1)
    )
    if unfinished is not None and not restart:
        return unfinished
    requests = list(
        session.scalars(
            sa.select(TracingRequest.id)
            .where(TracingRequest.status != RecordStatus.CLOSED)
            .order_by(TracingRequest.id)
        )
    )
    run = MatchRun(model_version=version, total_requests=len(requests))
    session.add(run)
    session.flush()
    size = RUN_BATCH_SHARED_STORE if session.get_bind().dialect.name == "postgresql" else RUN_BATCH
    for number, start in enumerate(range(0, len(requests), size)):
        ids = requests[start : start + size]
        session.add(
            MatchRunChunk(
                run_id=run.id,
                number=number,
                first_request_id=ids[0],
                last_request_id=ids[-1],
                requests=len(ids),
            )
        )
    session.flush()
    return run


def _chunks_to_do(run_id: uuid.UUID) -> list[int]:
    with db.transaction(read_only=True) as session:
        statement = sa.select(MatchRunChunk.number).where(
            MatchRunChunk.run_id == run_id, MatchRunChunk.done_at.is_(None)
        )
        return list(session.scalars(statement.order_by(MatchRunChunk.number)))


def _requests_done(run_id: uuid.UUID) -> int:
    with db.transaction(read_only=True) as session:
        done = session.scalar(
            sa.select(sa.func.sum(MatchRunChunk.requests)).where(
                MatchRunChunk.run_id == run_id, MatchRunChunk.done_at.is_not(None)
            )
        )
    return int(done or 0)


def _reindex_all() -> None:
    services = app_services()
    for kind in (records.TRACING_REQUESTS, records.SIGHTINGS):
        for batch in _batches(kind.model):
            with db.transaction() as session:
                crypto = services.crypto(session)
                for record in session.scalars(sa.select(kind.model).where(kind.model.id.in_(batch))):
                    records.reindex(session, crypto, kind, record)


def _batches(model: type[RecordMixin]) -> Iterator[list[uuid.UUID]]:
    with db.transaction() as session:
        ids = list(session.scalars(sa.select(model.id).order_by(model.id)))
    for start in tqdm(range(0, len(ids), RUN_BATCH), desc="reindexing", disable=None):
        yield ids[start : start + RUN_BATCH]


@match_group.command("fit")
def match_fit() -> None:
    """Estimate a model from the records (decrypted in memory only) and officers' decisions, store it
    encrypted and make it the one every process scores with."""
    with audited_transaction() as (session, audit):
        model = fitting.fit_and_store(
            session, app_services().crypto(session), progress=click.echo, audit=audit
        )
    click.echo(
        f"model {model.version} active: fitted on {model.requests} tracing requests, {model.sightings} "
        f"sightings and {model.labels} officers' decisions"
    )


@match_group.command("stats")
def match_stats() -> None:
    """Candidates by status, the model in use, and the outbox backlog."""
    with db.transaction() as session:
        rows = session.execute(
            sa.select(MatchCandidate.status, sa.func.count()).group_by(MatchCandidate.status)
        )
        counts = {row[0]: row[1] for row in rows}
        version = active_version(session)
        waiting = backlog(session)
        requests = session.scalar(sa.select(sa.func.count()).select_from(TracingRequest))
        sightings = session.scalar(sa.select(sa.func.count()).select_from(Sighting))
    click.echo(f"model: {version or 'the default shipped with the package'}")
    click.echo(f"records: {requests} tracing requests, {sightings} sightings; outbox backlog: {waiting}")
    for status, count in sorted(counts.items(), key=lambda item: item[0].value):
        click.echo(f"  {status.value:<17} {count}")


@match_group.command("worker")
@click.option(
    "--beat", is_flag=True, help="Also run the periodic sweep that relays lost messages (on one worker)."
)
@click.option("--concurrency", type=click.IntRange(1), default=2, show_default=True)
def match_worker(beat: bool, concurrency: int) -> None:
    """Run a Celery worker for proposals (RFL_MATCHING_EXECUTOR=celery; broker RFL_CELERY_BROKER_URL)."""
    from flask import current_app

    from rfl.matches.tasks import bind

    celery = bind(current_app._get_current_object())  # type: ignore[attr-defined]
    argv = ["worker", "--loglevel=INFO", f"--concurrency={concurrency}"]
    celery.worker_main([*argv, "--beat"] if beat else argv)


@match_group.command("relay")
def match_relay() -> None:
    """Hand every waiting outbox message to the Celery workers (what the periodic sweep does)."""
    from rfl.matches.tasks import relay

    click.echo(f"relayed {relay()} messages")
