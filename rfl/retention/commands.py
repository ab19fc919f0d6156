"""``rfl retention run`` and ``rfl erase``: erasure on schedule and on request, from the command line."""

from __future__ import annotations

import uuid

import click
from flask.cli import AppGroup, with_appcontext
from tqdm import tqdm

from rfl.audit.entries import AuditEntry, Outcome
from rfl.audit.recorder import audited_transaction
from rfl.clock import now
from rfl.db import db
from rfl.errors import RflError
from rfl.extensions import app_services
from rfl.records.services import SIGHTINGS, TRACING_REQUESTS, RecordType
from rfl.retention import services
from rfl.retention.models import REQUEST_REASONS, ErasureReason, RetentionRun


@click.group("retention", cls=AppGroup)
def retention_group() -> None:
    """Retention periods: erase the persons whose period ended."""


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="Only list what would be erased (ids and reasons).")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Persons erased per transaction (default: RFL_RETENTION_BATCH).",
)
def retention_run(dry_run: bool, batch_size: int | None) -> None:
    """Erase every person whose record's retention period ended (the society's periods, else the
    installation's), in batches each committed with its audit entries.

    The plan is fixed when a run starts; a run killed midway is resumed by running the command again,
    and erases exactly the persons first planned. Records under a legal hold are skipped and listed.
    With --dry-run nothing changes: the lines are `record_type record_id person category [held]`.
    """
    settings = app_services().settings
    if dry_run:
        with db.transaction(read_only=True) as session:
            run = services.unfinished_run(session)
            due = services.pending(session, run) if run else services.plan(session, settings.retention, now())
        for item in due:
            mark = " held" if item.held else ""
            click.echo(f"{item.record_type} {item.record_id} {item.person} {item.category.value}{mark}")
        held_count = sum(item.held for item in due)
        click.echo(f"dry run: {len(due) - held_count} persons would be erased, {held_count} held", err=True)
        return
    with audited_transaction() as (session, audit):
        run, resumed = services.start_run(session, settings.retention, now=now(), audit=audit)
        run_id, planned = run.id, run.planned
        left = len(services.pending(session, run))
    click.echo(f"retention run {run_id} {'resumed' if resumed else 'started'}: {planned} persons planned")
    held: list[tuple[str, uuid.UUID, str, str]] = []
    with tqdm(total=left, desc="erasing", unit="person", disable=None) as bar:
        while True:
            with audited_transaction() as (session, audit):
                run = session.get_one(RetentionRun, run_id)
                batch = services.run_batch(
                    session,
                    app_services().crypto(session),
                    run,
                    limit=batch_size or settings.retention_batch,
                    now=now(),
                    audit=audit,
                )
            held.extend(batch.held_items)
            bar.update(batch.done)
            if batch.done == 0:
                break
    with audited_transaction() as (session, audit):
        summary = services.finish_run(session, session.get_one(RetentionRun, run_id), now=now(), audit=audit)
    for record_type, record_id, person, category in held:
        click.echo(f"held: {record_type} {record_id} {person} {category}")
    click.echo(
        f"retention run {summary.run_id} finished: {summary.erased} erased, {summary.held} held (legal hold),"
        f" {summary.already_erased} erased meanwhile, of {summary.planned} planned"
    )
    for (society, category), count in sorted(summary.by_society.items()):
        click.echo(f"  {society} {category}: {count}")


def _kind_of(record_id: uuid.UUID) -> RecordType:
    with db.transaction(read_only=True) as session:
        for kind in (TRACING_REQUESTS, SIGHTINGS):
            if session.get(kind.model, record_id) is not None:
                return kind
    raise click.ClickException("No such record.")


@click.command("erase")
@click.option(
    "--record", "record_id", required=True, type=click.UUID, help="A tracing request or sighting id."
)
@click.option(
    "--person",
    type=click.Choice(["sought_person", "enquirer", "person"]),
    default=None,
    help="Which person of a tracing request (a sighting has one: person).",
)
@click.option(
    "--reason",
    required=True,
    type=click.Choice([reason.value for reason in REQUEST_REASONS]),
    help="The ground.",
)
@with_appcontext
def erase(record_id: uuid.UUID, person: str | None, reason: str) -> None:
    """Erase one person of a record on request (the right to erasure), as the operator.

    Refused while the record is under a legal hold, or when the person was erased already; the
    refusal is audited too."""
    kind = _kind_of(record_id)
    if person is None:
        if kind is TRACING_REQUESTS:
            raise click.BadParameter(
                "a tracing request has two persons: sought_person or enquirer", param_hint="--person"
            )
        person = "person"
    entries: list[AuditEntry] = []
    try:
        with audited_transaction() as (session, audit):

            def sink(entry: AuditEntry) -> None:
                entries.append(entry)
                audit(entry)

            record = services.erase_on_request(
                session,
                app_services().crypto(session),
                None,
                kind,
                record_id,
                person=person,
                reason=ErasureReason(reason),
                now=now(),
                audit=sink,
            )
            erased_at = getattr(record, kind.erased_columns[services.PERSONS[kind.name][person]])
    except RflError as error:
        denied = [entry for entry in entries if entry.outcome is Outcome.DENIED]
        if denied:  # a refusal is on the record even though the work was rolled back
            with audited_transaction() as (_, audit):
                for entry in denied:
                    audit(entry)
        raise click.ClickException(error.detail) from None
    click.echo(f"{kind.name} {record_id}: {person} erased at {erased_at.isoformat()} ({reason})")
