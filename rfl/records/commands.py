"""``rfl records ...``: maintenance of the records' plain columns; ``rfl check``: their seals."""

from __future__ import annotations

import sys
import uuid

import click
from flask.cli import AppGroup, with_appcontext
from tqdm import tqdm

from rfl.audit.recorder import audited_transaction
from rfl.db import db
from rfl.extensions import app_services
from rfl.records.seals import SEALED_MODELS, broken_seals, object_type, seal_unsealed
from rfl.records.services import backfill_condition_codes

BACKFILL_BATCH = 500


@click.group("records", cls=AppGroup)
def records_group() -> None:
    """Tracing requests and sightings: maintenance."""


@records_group.command("backfill-conditions")
@click.option("--batch", default=BACKFILL_BATCH, show_default=True, type=click.IntRange(1, 10_000))
def records_backfill_conditions(batch: int) -> None:
    """Fill in the condition code of sightings registered before the code was kept (the reports count
    sightings by it). Each condition is decrypted in memory only, each read audited; one transaction
    per batch, so it can be stopped and run again."""
    services = app_services()
    after: uuid.UUID | None = None
    filled = unreadable = 0
    with tqdm(desc="sightings", unit="sighting", disable=None) as bar:
        while True:
            with audited_transaction() as (session, audit):
                done = backfill_condition_codes(
                    session, services.crypto(session), after=after, limit=batch, audit=audit
                )
            if done.last_id is None:
                break
            after = done.last_id
            filled += done.filled
            unreadable += done.unreadable
            bar.update(done.filled + done.unreadable)
    click.echo(f"{filled} condition codes filled in, {unreadable} sightings unreadable (erased)")


@records_group.command("seal")
@click.option("--batch", default=BACKFILL_BATCH, show_default=True, type=click.IntRange(1, 10_000))
def records_seal(batch: int) -> None:
    """Seal the protection and status columns of records that have no seal yet (registered before
    seals were kept): until then they are read as their most restrictive setting. Seals the values
    stored now, so run it once, right after the upgrade; a record whose seal is present but broken is
    left for its owner to check (``rfl check``). Each seal is audited; one transaction per batch."""
    services = app_services()
    total = 0
    for model in SEALED_MODELS:
        after: uuid.UUID | None = None
        while True:
            with audited_transaction() as (session, audit):
                done = seal_unsealed(
                    session, services.crypto(session), model, after=after, limit=batch, audit=audit
                )
            if done.last_id is None:
                break
            after = done.last_id
            total += done.sealed
    click.echo(f"{total} records sealed")


@click.command("check")
@with_appcontext
@click.option("--batch", default=BACKFILL_BATCH, show_default=True, type=click.IntRange(1, 10_000))
def check(batch: int) -> None:
    """Verify the seal of every tracing request and sighting; print the id of each record whose seal
    fails (or is missing) and exit 1 if there is any. Ids only: nothing is decrypted."""
    services = app_services()
    failed = 0
    with db.transaction(read_only=True) as session:
        crypto = services.crypto(session)
        for model in SEALED_MODELS:
            for record_id in broken_seals(session, crypto, model, batch=batch):
                failed += 1
                click.echo(f"FAIL: {object_type(model)} {record_id}: seal does not verify")
    if failed:
        click.echo(f"{failed} records whose seal fails: they are read as their most restrictive setting")
        sys.exit(1)
    click.echo("OK: every record's seal verifies")
