"""``rfl records ...``: maintenance of the records' plain columns."""

from __future__ import annotations

import uuid

import click
from flask.cli import AppGroup
from tqdm import tqdm

from rfl.audit.recorder import audited_transaction
from rfl.extensions import app_services
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
