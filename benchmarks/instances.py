"""What the benchmarks that drive the services directly share: a throwaway instance's settings, an audit
sink for set-up work, a fresh database (an SQLite file, or a PostgreSQL database dropped afterwards), and
fresh planner statistics after a bulk load.

Import it after the script has put this checkout on ``sys.path``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from rfl.audit.entries import AuditEntry
from rfl.db import db, make_engine
from rfl.keys import ensure_key_files
from rfl.settings import Environment, Settings

SECRET = "benchmark-secret-" + "x" * 32  # a throwaway instance


def bench_settings(instance: Path, database_url: str, origin: str, **options: Any) -> Settings:
    """Settings of a throwaway instance in ``instance`` (its key files made there on first use)."""
    instance.mkdir(parents=True, exist_ok=True)
    key_file, signing_key_file = instance / "keys.json", instance / "audit-signing-key.json"
    ensure_key_files(key_file, signing_key_file, origin)
    return Settings(
        env=Environment.TESTING,
        instance_dir=instance,
        database_url=database_url,
        secret_key=SECRET,
        key_file=key_file,
        audit_signing_key_file=signing_key_file,
        checkpoint_origin=origin,
        log_level="WARNING",
        **options,
    )


def ignore_audit(_entry: AuditEntry) -> None:
    """Set-up is not what is measured."""


@contextmanager
def fresh_database(pg_url: str | None, folder: Path, name: str) -> Iterator[str]:
    """The URL of an empty database: an SQLite file in ``folder`` without ``pg_url``, else a new
    PostgreSQL database on that server, dropped afterwards."""
    if pg_url is None:
        yield f"sqlite:///{folder / (name + '.sqlite3')}"
        return
    database = f"rfl_{name}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
    try:
        yield make_url(pg_url).set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def analyze() -> None:
    """Refresh PostgreSQL's planner statistics after growing. A deployment's autovacuum does this for
    a table that grew; on the benchmark's server it may be off, and a bulk load outruns it anyway:
    without statistics the planner takes the grown blind index for empty, and each proposal's blocking
    query scanned every blocking row (10x slower at 10k records). Vacuumed too, as autovacuum would
    have: a search reads its blind-index rows from the index alone only on pages marked all-visible."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))
