"""The ``rfl`` command line: database, bootstrap, keys, audit, serve and demo commands.

Every command that changes data runs in ``audited_transaction``: its audit entries commit with its work,
exactly like the entries of its HTTP twin.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, cast

import click
from flask import Flask
from flask.cli import AppGroup, ScriptInfo
from tqdm import tqdm

from privacy import (
    CheckpointError,
    CheckpointVerifier,
    PrivacyError,
    RewrapReport,
    deks_under_older_keks,
    retire_kek,
    rewrap_batch,
)
from rfl import migrate
from rfl.accounts import services as accounts
from rfl.accounts.models import Role, Society, SocietyType
from rfl.accounts.passwords import password_problems
from rfl.app import create_app
from rfl.audit import services as audit_services
from rfl.audit import verification
from rfl.audit.entries import Action, AuditEntry, Outcome
from rfl.audit.recorder import audited_transaction
from rfl.clock import now
from rfl.crypto.keystore import DatabaseKeyStore
from rfl.db import db
from rfl.errors import RflError, ValidationFailed
from rfl.exchange.commands import export_group, import_group
from rfl.extensions import app_services
from rfl.idempotency.services import purge_expired
from rfl.keys import ReloadingKeyProvider
from rfl.matches.commands import match_group
from rfl.matches.store import SYSTEM_RING
from rfl.matches.worker import drain
from rfl.records import services as records
from rfl.records.commands import check, records_group
from rfl.reports import formats as report_formats
from rfl.reports.periods import Granularity, Window
from rfl.reports.services import ReportName, ReportQuery, run_report
from rfl.retention.commands import erase as erase_command
from rfl.retention.commands import retention_group
from rfl.serve import PortInUse, check_port_free, run_gunicorn


def _create_app_from_environment() -> Flask:
    return create_app()


class RflGroup(AppGroup):
    """rfl's own commands only: Flask's development commands (run, shell, routes) and its --app and
    --env-file options are not part of this tool. Each command runs inside the application's context."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        extra.setdefault(
            "obj",
            ScriptInfo(
                create_app=_create_app_from_environment, set_debug_flag=False, load_dotenv_defaults=False
            ),
        )
        return super().make_context(info_name, args, parent=parent, **extra)


@click.group(cls=RflGroup)
def main() -> None:
    """rfl: Restoring Family Links case management."""


main.add_command(match_group)
main.add_command(records_group)
main.add_command(check)
main.add_command(retention_group)
main.add_command(erase_command)
main.add_command(import_group)
main.add_command(export_group)


def _fail_on_domain_error(error: RflError) -> NoReturn:
    message = error.detail
    if isinstance(error, ValidationFailed):
        message += " " + "; ".join(
            f"{field}: {' '.join(map(str, msgs))}" for field, msgs in error.errors.items()
        )
    raise click.ClickException(message.strip())


def _database_url() -> str:
    return app_services().settings.database_url


# --- rfl db -----------------------------------------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Database schema migrations."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Upgrade the schema to REVISION (default: head)."""
    migrate.upgrade(_database_url(), revision)
    click.echo(f"database at {migrate.current_revision(_database_url())}")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Downgrade the schema to REVISION (e.g. -1 or base)."""
    migrate.downgrade(_database_url(), revision)
    click.echo(f"database at {migrate.current_revision(_database_url())}")


@db_group.command("current")
def db_current() -> None:
    """Print the schema revision of the database and the code's head."""
    click.echo(f"database: {migrate.current_revision(_database_url())}")
    click.echo(f"code head: {migrate.head_revision(_database_url())}")


# --- rfl societies / users -------------------------------------------------------------------------


@main.group("societies")
def societies_group() -> None:
    """Organisations of the Family Links Network."""


@societies_group.command("create")
@click.option("--name", required=True, help="Full name, e.g. 'Italian Red Cross'.")
@click.option("--country", default=None, help="ISO 3166-1 alpha-2 country code.")
@click.option("--code", default=None, help="Short code (default: the country code).")
@click.option(
    "--type",
    "society_type",
    type=click.Choice([t.value for t in SocietyType]),
    default=SocietyType.NATIONAL_SOCIETY.value,
)
def societies_create(name: str, country: str | None, code: str | None, society_type: str) -> None:
    """Create a society."""
    code = code or country
    if not code:
        raise click.UsageError("--code is required when there is no --country")
    try:
        with audited_transaction() as (session, audit):
            society = accounts.create_society(
                session,
                app_services().keys,
                code=code,
                name=name,
                type=SocietyType(society_type),
                country=country,
                audit=audit,
            )
            click.echo(f"created society {society.code} ({society.id})")
    except RflError as error:
        _fail_on_domain_error(error)


@main.group("users")
def users_group() -> None:
    """User accounts."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--society", "society_code", required=True, help="Society code, e.g. IT.")
def users_create(email: str, name: str, role: str, society_code: str) -> None:
    """Create a user; the password is prompted for (twice), or read from stdin when it is not a terminal."""
    password = _read_new_password()
    try:
        with audited_transaction() as (session, audit):
            society = accounts.get_society_by_code(session, society_code)
            user = accounts.create_user(
                session,
                app_services().passwords,
                society=society,
                email=email,
                name=name,
                role=Role(role),
                password=password,
                audit=audit,
            )
            click.echo(f"created user {user.id} ({user.role.value}, {society.code})")
    except RflError as error:
        _fail_on_domain_error(error)


def _read_new_password() -> str:
    """Never from argv (it would show in the process list and shell history)."""
    if sys.stdin.isatty():
        password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        lines = sys.stdin.read().splitlines()
        if not lines or not lines[0]:
            raise click.UsageError("expected the password on the first line of standard input")
        password = lines[0]
        if len(lines) > 1 and lines[1] and lines[1] != password:
            raise click.UsageError("the password and its confirmation (second line) differ")
    problems = password_problems(password)
    if problems:
        raise click.UsageError(f"password: {' '.join(problems)}")
    return password


# --- rfl serve / demo ------------------------------------------------------------------------------


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int, envvar="PORT")
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API with gunicorn (a production WSGI server)."""
    _port_must_be_free(host, port)
    run_gunicorn(create_app, host, port, workers)


def _port_must_be_free(host: str, port: int) -> None:
    try:
        check_port_free(host, port)
    except PortInUse as error:
        raise click.ClickException(f"{error} (e.g. --port 5001, or PORT=5001 make demo)") from None


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int, envvar="PORT")
@click.option("--serve/--no-serve", "serve_after", default=True, help="Start the API server afterwards.")
def demo(host: str, port: int, serve_after: bool) -> None:
    """Bootstrap demo societies and users (fresh passwords and tokens each run), then serve the API."""
    from rfl.demo import example_match, print_next_steps, seed_demo, seed_demo_records_once
    from rfl.demo_cases import WalkedCases, print_auditors_view, walk_two_cases

    if serve_after:
        _port_must_be_free(host, port)  # before seeding: a taken port should cost nothing
    services = app_services()
    demo_time = now()
    with audited_transaction() as (session, audit):
        credentials = seed_demo(session, services.passwords, services.keys, now=demo_time, audit=audit)
    with audited_transaction() as (session, audit):
        created = seed_demo_records_once(
            session, services.crypto(session), credentials, now=demo_time, audit=audit
        )
    with tqdm(desc="proposing matches", unit="record", disable=None) as bar:
        drain(progress=bar.update)
    cases = WalkedCases(None, None)
    if created[0]:  # the first run walks two cases through the whole workflow
        with audited_transaction() as (session, audit):
            cases = walk_two_cases(
                session, services.crypto(session), _demo_officers(credentials), now=demo_time, audit=audit
            )
    base = f"http://{host}:{port}"
    with db.transaction() as session:
        example = example_match(session, credentials)
        print_next_steps(credentials, created, example, base=base, echo=click.echo)
        tokens = {(c.society, c.role): c.token for c in credentials}
        print_auditors_view(session, cases, tokens, base=base, echo=click.echo)
    if serve_after:
        run_gunicorn(create_app, host, port, workers=2)


def _demo_officers(credentials: list[Any]) -> dict[str, Any]:
    return {c.society: c.actor for c in credentials if c.role is Role.TRACING_OFFICER}


# --- rfl idempotency --------------------------------------------------------------------------------


@main.group("idempotency")
def idempotency_group() -> None:
    """Remembered Idempotency-Key results (24 hours)."""


@idempotency_group.command("purge")
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(1, 100_000))
def idempotency_purge(batch: int) -> None:
    """Delete every expired idempotency key, in batches of --batch rows per transaction."""
    total = 0
    while True:
        with audited_transaction() as (session, audit):
            removed = purge_expired(session, now(), limit=batch)
            if removed:
                audit(AuditEntry(Action.IDEMPOTENCY_PURGE, object_type="idempotency_keys"))
        total += removed
        if removed < batch:
            break
    click.echo(f"purged {total} expired idempotency keys")


# --- rfl audit -------------------------------------------------------------------------------------


@main.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the current tree head and print it (keep the output outside the system)."""
    services = app_services()
    with audited_transaction() as (session, audit):
        signed = audit_services.checkpoint_for(
            session,
            None,
            services.audit_signer,
            origin=services.settings.checkpoint_origin,
            now=now(),
            audit=audit,
        )
    click.echo(signed.note, nl=False)


@audit_group.command("public-key")
def audit_public_key() -> None:
    """Print the verifier key (C2SP vkey) of the checkpoint signing key, for auditors."""
    click.echo(app_services().audit_signer.verifier().vkey)


@audit_group.command("verify")
@click.option(
    "--against", type=click.File("r"), help="A checkpoint exported earlier with `rfl audit checkpoint`."
)
@click.option("--key", "vkey", default=None, help="Verifier key (vkey) to check signatures with.")
def audit_verify(against: Any, vkey: str | None) -> None:
    """Recompute every leaf and the root in one pass, check every stored checkpoint and, with --against,
    that the log is an append-only extension of an exported one. Exits 1 naming the first problem.

    Reads in a read-only transaction (writers go on meanwhile); then records the run (a signed record
    the API's verification continues from) and its `audit.verify` entry in a short write transaction."""
    services = app_services()
    try:
        verifier = CheckpointVerifier.from_vkey(vkey) if vkey else services.audit_signer.verifier()
    except CheckpointError:
        raise click.BadParameter("not a verifier key of the form name+hash+key", param_hint="--key") from None
    origin = services.settings.checkpoint_origin
    # The write transaction begins with its first statement, once the read is over.
    with audited_transaction() as (session, audit):
        with db.transaction(read_only=True) as reading:
            result = audit_services.verification_for(
                reading,
                None,
                verifier,
                origin=origin,
                now=now(),
                against=against.read() if against else None,
                audit=audit,
            )
        verification.record_progress(
            session, services.audit_signer, origin=origin, progress=result.progress, now=now()
        )
    if not result.ok:
        for problem in result.problems:
            click.echo(f"FAIL: {problem}", err=True)
        sys.exit(1)
    click.echo(f"OK: {result.size} entries, root {base64.b64encode(result.root).decode()}")


@audit_group.command("verify-export", with_appcontext=False)
@click.argument("export_file", type=click.File("r", encoding="utf-8"))
@click.option("--key", "vkey", required=True, help="The log's verifier key (from `rfl audit public-key`).")
def audit_verify_export(export_file: Any, vkey: str) -> None:
    """Check an exported consent or disclosure log offline, with the public key alone: the checkpoint's
    signature, every entry's inclusion under it, and every row against its entry. Exits 1 naming each
    bad row."""
    from rfl.disclosures.export import verify_export

    try:
        verifier = CheckpointVerifier.from_vkey(vkey)
    except CheckpointError:
        raise click.BadParameter("not a verifier key of the form name+hash+key", param_hint="--key") from None
    problems = verify_export(export_file.read(), verifier)
    if problems:
        for problem in problems:
            click.echo(f"FAIL: {problem}", err=True)
        sys.exit(1)
    click.echo("OK: every row is in the signed log, exactly as recorded")


# --- rfl report ------------------------------------------------------------------------------------


@main.command("report")
@click.argument("name", type=click.Choice([name.value for name in ReportName]))
@click.option(
    "--society", "society_code", default=None, help="Society code, e.g. IT (default: every society)."
)
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (UTC).")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (UTC).")
@click.option(
    "--granularity", type=click.Choice([g.value for g in Granularity]), default="month", show_default=True
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
def report(
    name: str,
    *,
    society_code: str | None,
    start: datetime,
    end: datetime,
    granularity: str,
    output_format: str,
) -> None:
    """Print a monitoring report (tracing-activity, matching, consent-disclosure, flows).

    Counted from statuses, codes and dates only; counts below the threshold (RFL_REPORT_THRESHOLD) and
    whatever would give them back are withheld. The run is audited with its parameters.
    """
    window = Window(start.date(), end.date(), Granularity(granularity))
    query = ReportQuery(ReportName(name), society_code, window, output_format)
    try:
        with audited_transaction() as (session, audit):
            result = run_report(
                session, None, query, threshold=app_services().settings.report_threshold, audit=audit
            )
    except RflError as error:
        _fail_on_domain_error(error)
    if output_format == "json":
        click.echo(json.dumps(report_formats.as_document(result), indent=2))
    elif output_format == "csv":
        click.echo(report_formats.as_csv(result), nl=False)
    else:
        click.echo(report_formats.as_text(result), nl=False)


# --- rfl keys --------------------------------------------------------------------------------------

# Data keys rewrapped per transaction: a rotation commits between batches, never one giant transaction.
ROTATION_BATCH_SIZE = 500
# Sweeps after the first pass; each follows a wait of the key file's check interval.
MAX_SWEEPS = 5
# How many data keys that cannot be rewrapped a failed rotation names.
LEFT_OVER_SHOWN = 20


@main.group("keys")
def keys_group() -> None:
    """Key rings: rotate a society's key-encryption key or blind-index key, and retire old KEK versions."""


def _keys_entry(action: Action, society_id: uuid.UUID | None, outcome: Outcome = Outcome.OK) -> AuditEntry:
    if society_id is None:  # the system ring: no society owns it
        return AuditEntry(action, outcome, object_type="key_ring", object_id=SYSTEM_RING)
    return AuditEntry(
        action, outcome, owner_society_id=society_id, object_type="society", object_id=str(society_id)
    )


def _audit_keys(action: Action, society_id: uuid.UUID | None, outcome: Outcome = Outcome.OK) -> None:
    """Commit one audit entry on its own, before or after the key file changes (never with them)."""
    with audited_transaction() as (_, audit):
        audit(_keys_entry(action, society_id, outcome))


def _society_for_keys(society_code: str) -> Society:
    try:
        with db.transaction() as session:
            return accounts.get_society_by_code(session, society_code)
    except RflError as error:
        _fail_on_domain_error(error)


@dataclass(frozen=True)
class _Ring:
    """The key ring a keys command works on: a society's, or the system ring (matcher models)."""

    ring: str
    society_id: uuid.UUID | None
    code: str


def _ring_for_keys(society_code: str | None, system: bool) -> _Ring:
    if system == (society_code is not None):
        raise click.UsageError("give either --society CODE or --system")
    if system:
        return _Ring(SYSTEM_RING, None, SYSTEM_RING)
    society = _society_for_keys(str(society_code))
    return _Ring(str(society.id), society.id, society.code)


def _ring_option(code: str) -> str:
    return "--system" if code == SYSTEM_RING else f"--society {code}"


_SYSTEM_OPTION = click.option(
    "--system", is_flag=True, help="The system ring (fitted matcher models) instead of a society's."
)


@keys_group.command("rotate")
@click.option("--society", "society_code", default=None, help="Society code, e.g. IT.")
@_SYSTEM_OPTION
@click.option("--resume", is_flag=True, help="Only finish what an interrupted rotation left; add no version.")
@click.option(
    "--batch-size",
    default=ROTATION_BATCH_SIZE,
    show_default=True,
    type=click.IntRange(min=1),
    help="Data keys rewrapped per transaction.",
)
def keys_rotate(society_code: str | None, system: bool, resume: bool, batch_size: int) -> None:
    """Add a new KEK version to the society's ring (or the system ring) and rewrap every data key under it.

    No field ciphertext changes; safe while servers and workers run. The start is audited before the
    key file changes. Data keys are rewrapped in batches, each committed; then, once every process
    has had time to reload the key file, sweeps rewrap what stale processes still wrapped under the
    old version, until nothing is left under an older version. Exits 1 saying what is left if that
    cannot be reached; `--resume` finishes an interrupted or unfinished rotation.
    """
    provider = app_services().keys
    target = _ring_for_keys(society_code, system)
    ring = target.ring
    if system:
        provider.add_ring(ring)  # an installation that never fitted a model has no system ring yet
    _audit_keys(Action.KEYS_ROTATE_RESUMED if resume else Action.KEYS_ROTATE_STARTED, target.society_id)
    version = provider.active_kek_version(ring) if resume else provider.rotate_kek(ring)
    changed_at = time.monotonic()
    verb = "resumed" if resume else "started"
    click.echo(f"{target.code}: rotation {verb}; KEK v{version} active")

    first, batches = _rewrap_pass(provider, ring, batch_size)
    failed = len(first.failed)
    click.echo(f"{target.code}: {first.rewrapped} data keys rewrapped in {batches} batches, {failed} failed")
    _wait_for_reloads(provider, target.code, since=changed_at)
    _sweep(provider, target.code, ring, batch_size)

    with db.transaction() as session:
        left = deks_under_older_keks(DatabaseKeyStore(session), provider, ring)
    if left:
        _audit_keys(Action.KEYS_ROTATE, target.society_id, Outcome.FAILED)
        _report_unfinished_rotation(target.code, left, first.failed)
        sys.exit(1)
    _audit_keys(Action.KEYS_ROTATE, target.society_id)
    click.echo(f"{target.code}: rotation complete: no data key is left under an older KEK version")


def _rewrap_pass(provider: ReloadingKeyProvider, ring: str, batch_size: int) -> tuple[RewrapReport, int]:
    """One pass over the data keys under older KEK versions, one committed transaction per batch."""
    with db.transaction() as session:
        report = rewrap_batch(DatabaseKeyStore(session), provider, ring, limit=batch_size)
    batches = 1
    while report.next is not None:
        with db.transaction() as session:
            batch = rewrap_batch(
                DatabaseKeyStore(session), provider, ring, after=report.next, limit=batch_size
            )
        report = report.then(batch)
        batches += 1
    return report, batches


def _wait_for_reloads(provider: ReloadingKeyProvider, code: str, *, since: float) -> None:
    """Sleep until every process has checked the key file at least once since ``since``: from then on
    none wraps a new data key under an older KEK."""
    remaining = since + provider.check_interval - time.monotonic()
    if remaining > 0:
        click.echo(f"{code}: waiting {remaining:.1f} s for every process to reload the key file")
        app_services().sleep(remaining)


def _sweep(provider: ReloadingKeyProvider, code: str, ring: str, batch_size: int) -> None:
    """Rewrap what stale processes wrapped under older versions during the rotation; repeat (after
    another check interval) while a sweep still finds some, at most ``MAX_SWEEPS`` times."""
    for sweep in range(1, MAX_SWEEPS + 1):
        report, _ = _rewrap_pass(provider, ring, batch_size)
        click.echo(f"{code}: sweep {sweep}: {report.rewrapped} more data keys rewrapped")
        if report.rewrapped == 0 and report.skipped == 0:
            return
        app_services().sleep(provider.check_interval)


def _report_unfinished_rotation(
    code: str, left: Mapping[int, int], failed: Sequence[tuple[str, int]]
) -> None:
    versions = ", ".join(f"v{version}: {count}" for version, count in sorted(left.items()))
    click.echo(
        f"{code}: rotation NOT complete: data keys are still wrapped under older KEK versions ({versions})",
        err=True,
    )
    for subject_id, dek_version in failed[:LEFT_OVER_SHOWN]:
        click.echo(f"{code}: does not unwrap: subject {subject_id} DEK v{dek_version}", err=True)
    click.echo(
        f"{code}: run `rfl keys rotate {_ring_option(code)} --resume` again; a key that does not unwrap needs"
        " restoring from a backup of the key file or the database",
        err=True,
    )


@keys_group.command("rotate-index")
@click.option("--society", "society_code", required=True, help="Society code, e.g. IT.")
@click.option(
    "--batch-size",
    default=ROTATION_BATCH_SIZE,
    show_default=True,
    type=click.IntRange(min=1),
    help="Records reindexed per transaction.",
)
def keys_rotate_index(society_code: str, batch_size: int) -> None:
    """Add a new blind-index key version to the society's ring and rebuild its records' index under it.

    The new version is truncated as the current RFL_INDEX_EXPECTED_* settings plan it (the way to
    re-plan a society's index as it grows). Safe while servers and workers run: searches and matching
    query every version meanwhile, so no record is hidden; after every process has reloaded the key
    file, a sweep reindexes what stale processes still wrote under the old version. The start is
    audited before the key file changes. An interrupted rebuild is finished by running it again (one
    more version, and every record reindexed under it).
    """
    provider = app_services().keys
    target = _ring_for_keys(society_code, system=False)
    society_id = cast(uuid.UUID, target.society_id)
    _audit_keys(Action.KEYS_INDEX_ROTATE_STARTED, society_id)
    version = provider.rotate_index_key(target.ring)
    changed_at = time.monotonic()
    click.echo(f"{target.code}: index key v{version} active")
    _reindex_older_versions(society_id, batch_size)
    _wait_for_reloads(provider, target.code, since=changed_at)
    rebuilt = _reindex_older_versions(society_id, batch_size)
    click.echo(f"{target.code}: sweep: {rebuilt} more records reindexed")
    with db.transaction() as session:
        left = records.indexed_under_older_versions(session, app_services().crypto(session), society_id)
    if left:
        _audit_keys(Action.KEYS_INDEX_ROTATE, society_id, Outcome.FAILED)
        raise click.ClickException(
            f"{target.code}: {left} index rows are still under older versions: run again"
        )
    _audit_keys(Action.KEYS_INDEX_ROTATE, society_id)
    click.echo(f"{target.code}: index rebuilt: every record is indexed under index key v{version}")


def _reindex_older_versions(society_id: uuid.UUID, batch_size: int) -> int:
    """Reindex the society's records still indexed under older versions, a committed batch at a time."""
    done = 0
    with tqdm(desc="reindexing", unit="records", disable=None) as progress:
        for kind in (records.TRACING_REQUESTS, records.SIGHTINGS):
            while True:
                with db.transaction() as session:
                    crypto = app_services().crypto(session)
                    count = records.reindex_older_versions(
                        session, crypto, kind, society_id, limit=batch_size
                    )
                done += count
                progress.update(count)
                if count < batch_size:
                    break
    return done


@keys_group.command("retire")
@click.option("--society", "society_code", default=None, help="Society code, e.g. IT.")
@_SYSTEM_OPTION
@click.option("--version", "kek_version", required=True, type=int, help="The KEK version to destroy.")
def keys_retire(society_code: str | None, system: bool, kek_version: int) -> None:
    """Destroy an old KEK version; refused while it is active or any data key is still wrapped under it.

    Run it only after `rfl keys rotate` completed. The attempt is audited before the key file
    changes, and its outcome (done or refused) after.
    """
    provider = app_services().keys
    target = _ring_for_keys(society_code, system)
    _audit_keys(Action.KEYS_RETIRE_STARTED, target.society_id)
    try:
        with db.transaction() as session:
            retire_kek(DatabaseKeyStore(session), provider, target.ring, kek_version)
    except PrivacyError as error:
        _audit_keys(Action.KEYS_RETIRE, target.society_id, Outcome.DENIED)
        raise click.ClickException(f"{target.code}: KEK v{kek_version} not retired: {error}") from None
    _audit_keys(Action.KEYS_RETIRE, target.society_id)
    click.echo(f"{target.code}: KEK v{kek_version} retired")
