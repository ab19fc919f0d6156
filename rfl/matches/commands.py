"""``rfl match ...``: drain the outbox, re-score everything, fit a model, show where matching stands,
run Celery workers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

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
from rfl.matches.models import MatchCandidate, MatchRun
from rfl.matches.proposals import propose
from rfl.matches.store import active_version, current_matcher
from rfl.matches.worker import drain
from rfl.outbox.services import backlog
from rfl.records import services as records
from rfl.records.models import RecordMixin, RecordStatus, Sighting, TracingRequest

RUN_BATCH = 50


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
def match_run(restart: bool, reindex: bool) -> None:
    """Re-score every open tracing request against the sightings with the current model.

    Idempotent (an unchanged pair keeps its candidate) and resumable: after a kill, run it again and it
    goes on after the last request it finished.
    """
    services = app_services()
    if reindex:
        _reindex_all()
    with db.transaction() as session:
        run = _run_to_resume(session, restart)
        run_id, done, total = run.id, run.done_requests, run.total_requests
    stored = 0
    with tqdm(total=total, initial=done, desc="re-scoring", unit="request", disable=None) as bar:
        while True:
            with audited_transaction() as (session, audit):
                run = session.get_one(MatchRun, run_id)
                batch = _next_requests(session, run.last_request_id)
                if not batch:
                    run.finished_at = services.clock()
                    audit(AuditEntry(Action.MATCH_RUN, object_type="match_run", object_id=str(run.id)))
                    break
                crypto = services.crypto(session)
                matcher = current_matcher(session, crypto)
                for request_id in batch:
                    report = propose(
                        session,
                        crypto,
                        matcher,
                        "tracing_request",
                        request_id,
                        limits=services.settings.matching,
                        audit=audit,
                    )
                    stored += report.stored
                # The progress commits with the proposals it stands for: a kill loses neither alone.
                run.last_request_id = batch[-1]
                run.done_requests += len(batch)
            bar.update(len(batch))
    click.echo(
        f"re-scored {total} tracing requests with model {run.model_version}: "
        f"{stored} candidates stored or changed"
    )


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
    total = session.scalar(
        sa.select(sa.func.count())
        .select_from(TracingRequest)
        .where(TracingRequest.status != RecordStatus.CLOSED)
    )
    run = MatchRun(model_version=version, total_requests=total or 0)
    session.add(run)
    session.flush()
    return run


def _next_requests(session: Session, after: uuid.UUID | None) -> list[uuid.UUID]:
    statement = sa.select(TracingRequest.id).where(TracingRequest.status != RecordStatus.CLOSED)
    if after is not None:
        statement = statement.where(TracingRequest.id > after)
    return list(session.scalars(statement.order_by(TracingRequest.id).limit(RUN_BATCH)))


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
