"""The ``rfl`` command line: database, bootstrap, keys, audit, serve and demo commands.

Every command that changes data runs in ``audited_transaction``: its audit entries commit with its work,
exactly like the entries of its HTTP twin.
"""

from __future__ import annotations

import base64
import sys
import uuid
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup, ScriptInfo

from privacy import CheckpointError, CheckpointVerifier, KekInUseError, retire_kek, rewrap_deks
from rfl import migrate
from rfl.accounts import services as accounts
from rfl.accounts.models import Role, SocietyType
from rfl.accounts.passwords import password_problems
from rfl.app import create_app
from rfl.audit import services as audit_services
from rfl.audit.entries import Action, AuditEntry
from rfl.audit.recorder import audited_transaction
from rfl.clock import now
from rfl.crypto.keystore import DatabaseKeyStore
from rfl.errors import RflError, ValidationFailed
from rfl.extensions import app_services
from rfl.idempotency.services import purge_expired
from rfl.matches.commands import match_group
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


def _fail_on_domain_error(error: RflError) -> None:
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
    from rfl.demo import print_next_steps, seed_demo, seed_demo_records_once

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
    print_next_steps(credentials, created, base=f"http://{host}:{port}", echo=click.echo)
    if serve_after:
        run_gunicorn(create_app, host, port, workers=2)


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
        signed = audit_services.sign_current_checkpoint(
            session, services.audit_signer, origin=services.settings.checkpoint_origin, now=now()
        )
        audit(AuditEntry(Action.AUDIT_CHECKPOINT, object_type="audit_log"))
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
    """Recompute every leaf and the root, check every stored checkpoint and, with --against, that the
    log is an append-only extension of an exported one. Exits 1 naming the first problem."""
    services = app_services()
    try:
        verifier = CheckpointVerifier.from_vkey(vkey) if vkey else services.audit_signer.verifier()
    except CheckpointError:
        raise click.BadParameter("not a verifier key of the form name+hash+key", param_hint="--key") from None
    with audited_transaction() as (session, audit):
        result = audit_services.verification_for(
            session,
            None,
            verifier,
            origin=services.settings.checkpoint_origin,
            against=against.read() if against else None,
            audit=audit,
        )
    if not result.ok:
        for problem in result.problems:
            click.echo(f"FAIL: {problem}", err=True)
        sys.exit(1)
    click.echo(f"OK: {result.size} entries, root {base64.b64encode(result.root).decode()}")


# --- rfl keys --------------------------------------------------------------------------------------


@main.group("keys")
def keys_group() -> None:
    """Key rings: rotate a society's key-encryption key and retire old versions."""


def _keys_entry(action: Action, society_id: uuid.UUID) -> AuditEntry:
    return AuditEntry(action, owner_society_id=society_id, object_type="society", object_id=str(society_id))


@keys_group.command("rotate")
@click.option("--society", "society_code", required=True, help="Society code, e.g. IT.")
@click.option("--resume", is_flag=True, help="Only rewrap what an interrupted rotation left; add no version.")
def keys_rotate(society_code: str, resume: bool) -> None:
    """Add a new KEK version to the society's ring and rewrap every data key under it.

    No field ciphertext changes. Safe while the system serves; run it again to finish an interrupted
    rotation. Retire the old version once every process has reloaded the key file.
    """
    provider = app_services().keys
    try:
        with audited_transaction() as (session, audit):
            society = accounts.get_society_by_code(session, society_code)
            ring = str(society.id)
            version = provider.active_kek_version(ring) if resume else provider.rotate_kek(ring)
            report = rewrap_deks(DatabaseKeyStore(session), provider, ring)
            audit(_keys_entry(Action.KEYS_ROTATE, society.id))
    except RflError as error:
        _fail_on_domain_error(error)
    rewrapped, failed = report.rewrapped, len(report.failed)
    click.echo(f"{society.code}: KEK v{version} active; {rewrapped} data keys rewrapped, {failed} failed")
    if report.failed:
        sys.exit(1)


@keys_group.command("retire")
@click.option("--society", "society_code", required=True, help="Society code, e.g. IT.")
@click.option("--version", "kek_version", required=True, type=int, help="The KEK version to destroy.")
def keys_retire(society_code: str, kek_version: int) -> None:
    """Destroy an old KEK version; refused while it is active or any data key is still wrapped under it."""
    provider = app_services().keys
    try:
        with audited_transaction() as (session, audit):
            society = accounts.get_society_by_code(session, society_code)
            ring = str(society.id)
            retire_kek(DatabaseKeyStore(session), provider, ring, kek_version)
            audit(_keys_entry(Action.KEYS_RETIRE, society.id))
    except RflError as error:
        _fail_on_domain_error(error)
    except KekInUseError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{society.code}: KEK v{kek_version} retired")
