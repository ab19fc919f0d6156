"""``rfl import pfif|csv FILE`` and ``rfl export pfif|csv``: the command-line twins of
``POST /api/v1/imports`` and ``GET /api/v1/exports``, audited the same way on behalf of a named user."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import sqlalchemy as sa
from flask.cli import AppGroup
from tqdm import tqdm

from rfl.accounts.models import Role, Society, User
from rfl.accounts.services import actor_of
from rfl.audit.recorder import audited_transaction
from rfl.db import db
from rfl.errors import ValidationFailed
from rfl.exchange import pfif, tabular
from rfl.exchange import services as exchange
from rfl.exchange.models import ImportFormat, ImportMode, ImportStatus
from rfl.exchange.worker import ImportSummary, run_import
from rfl.extensions import app_services
from rfl.identity import Actor
from rfl.matches.settings import Executor
from rfl.matches.worker import drain
from rfl.records.models import LegalBasis

IMPORTERS = (Role.CASEWORKER, Role.TRACING_OFFICER)
EXPORTERS = (Role.TRACING_OFFICER,)
F = TypeVar("F", bound=Callable[..., Any])
EXPORTED_FIELDS = {
    ImportFormat.PFIF: pfif.EXPORTED_PERSON_FIELDS,
    ImportFormat.CSV: tabular.EXPORTED_PERSON_FIELDS,
}


def _actor(society_code: str, email: str, roles: tuple[Role, ...]) -> Actor:
    """The named user of the society, who must hold one of ``roles``."""
    with db.transaction() as session:
        user = session.scalar(
            sa.select(User)
            .join(Society, Society.id == User.society_id)
            .where(Society.code == society_code.strip().upper(), User.email == email.strip().lower())
        )
        if user is None or not user.active:
            raise click.ClickException(f"{society_code} has no active user with that email")
        if user.role not in roles:
            wanted = " or ".join(role.value for role in roles)
            raise click.ClickException(f"the user must be a {wanted}")
        return actor_of(user)


@click.group("import", cls=AppGroup)
def import_group() -> None:
    """Import a PFIF file or a CSV list as records of a society."""


def _import_options(command: F) -> F:
    for option in reversed(
        [
            click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
            click.option("--society", "society_code", required=True, help="Society code, e.g. IT."),
            click.option(
                "--user", "email", required=True, help="The caseworker or officer the import is made by."
            ),
            click.option(
                "--legal-basis",
                required=True,
                type=click.Choice([basis.value for basis in LegalBasis]),
                help="The legal basis recorded on every imported record.",
            ),
            click.option(
                "--mode",
                default=ImportMode.VALID_ONLY.value,
                show_default=True,
                type=click.Choice([mode.value for mode in ImportMode]),
                help="valid_only imports the valid records; all_or_nothing none when one is rejected.",
            ),
        ]
    ):
        command = option(command)
    return command


@import_group.command("pfif")
@_import_options
def import_pfif(*, file: Path, society_code: str, email: str, legal_basis: str, mode: str) -> None:
    """Import the persons of a PFIF 1.1-1.4 FILE (DTDs and entities are refused unread)."""
    _import(
        ImportFormat.PFIF,
        file,
        society_code=society_code,
        email=email,
        legal_basis=legal_basis,
        mode=mode,
        mapping=None,
    )


@import_group.command("csv")
@_import_options
@click.option(
    "--mapping",
    "mapping_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The JSON column mapping (see the README).",
)
def import_csv(
    *, file: Path, society_code: str, email: str, legal_basis: str, mode: str, mapping_file: Path
) -> None:
    """Import the rows of a CSV list FILE through a column mapping."""
    try:
        raw = json.loads(mapping_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise click.ClickException("the mapping file is not JSON") from None
    try:
        mapping = tabular.column_mapping(raw)
    except ValidationFailed as error:
        raise click.ClickException(_problem_text(error)) from None
    _import(
        ImportFormat.CSV,
        file,
        society_code=society_code,
        email=email,
        legal_basis=legal_basis,
        mode=mode,
        mapping=mapping,
    )


def _problem_text(error: ValidationFailed) -> str:
    details = "; ".join(f"{name}: {' '.join(map(str, why))}" for name, why in error.errors.items())
    return f"{error.detail} {details}".strip()


def _import(
    file_format: ImportFormat,
    file: Path,
    *,
    society_code: str,
    email: str,
    legal_basis: str,
    mode: str,
    mapping: tabular.ColumnMapping | None,
) -> None:
    actor = _actor(society_code, email, IMPORTERS)
    data = file.read_bytes()
    with audited_transaction() as (session, audit):
        job = exchange.start_job(
            session,
            app_services().crypto(session),
            actor,
            file_format=file_format,
            mode=ImportMode(mode),
            legal_basis=LegalBasis(legal_basis),
            mapping=mapping,
            payload=None,
            audit=audit,
        )
        job_id = job.id
    with tqdm(desc="importing", unit="record", disable=None) as bar:
        summary = run_import(job_id, data, progress=bar)
    _report(summary)
    if summary.imported:
        _propose()
    if summary.status is not ImportStatus.DONE:
        raise click.ClickException(f"nothing imported (import {summary.job_id} {summary.status})")


def _report(summary: ImportSummary) -> None:
    click.echo(
        f"import {summary.job_id}: {summary.status}; {summary.total} records, {summary.imported} imported, "
        f"{summary.already_present} already present, {summary.rejected} rejected"
    )
    for problem in summary.report:
        click.echo(f"  rejected at {problem['position']}: {problem['field']}: {problem['reason']}", err=True)


def _propose() -> None:
    """The imported records wait in the outbox like any saved record: propose for them now (or hand
    them to the Celery workers)."""
    if app_services().settings.matching.executor is Executor.CELERY:
        from rfl.matches.tasks import relay

        click.echo(f"relayed {relay()} records to the matching workers")
        return
    with tqdm(desc="proposals", unit="record", disable=None) as bar:
        report = drain(progress=bar.update)
    click.echo(f"{report.processed} records proposed for, {report.proposed} candidates stored")


@click.group("export", cls=AppGroup)
def export_group() -> None:
    """Export what a society may share with RFL partners (to standard output)."""


def _export_options(command: F) -> F:
    command = click.option(
        "--user", "email", required=True, help="The tracing officer the export is made by."
    )(command)
    return click.option("--society", "society_code", required=True, help="Society code, e.g. IT.")(command)


@export_group.command("pfif")
@_export_options
def export_pfif(society_code: str, email: str) -> None:
    """The society's shareable records as PFIF 1.4, each with the day partners must delete it."""
    shared = _shared(society_code, email, ImportFormat.PFIF)
    sys.stdout.buffer.write(pfif.write(shared, app_services().settings.exchange_domain))
    sys.stdout.buffer.flush()


@export_group.command("csv")
@_export_options
def export_csv(society_code: str, email: str) -> None:
    """The society's shareable records as CSV."""
    shared = _shared(society_code, email, ImportFormat.CSV)
    click.echo(tabular.write(shared, app_services().settings.exchange_domain), nl=False)


def _shared(society_code: str, email: str, file_format: ImportFormat) -> list[pfif.Shared]:
    actor = _actor(society_code, email, EXPORTERS)
    services = app_services()
    with audited_transaction() as (session, audit):
        shared = exchange.shared_records(
            session,
            services.crypto(session),
            actor,
            fields=EXPORTED_FIELDS[file_format],
            retention_defaults=services.settings.retention,
            now=services.clock(),
            audit=audit,
        )
        audit(exchange.export_event(actor, file_format.value, len(shared)))
    return shared
