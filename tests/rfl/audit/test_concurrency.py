"""Under concurrent appenders the tree never forks and no committed entry is left out.

Runs with real concurrent connections on a database of its own (SQLite or PostgreSQL); the role tests
need PostgreSQL's privileges and run in the PostgreSQL pass of the suite.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from rfl import create_app, migrate
from rfl.audit.entries import Action, AuditEntry
from rfl.audit.models import AuditEvent
from rfl.audit.recorder import append_entries
from rfl.db import db, make_engine
from tests.conftest import make_settings
from tests.rfl.audit.conftest import fill_log, verify

THREADS = 4
TRANSACTIONS_PER_THREAD = 15
ENTRIES_PER_TRANSACTION = 3


def test_concurrent_appends_form_one_gapless_tree(throwaway_database_url: str, tmp_path: Path) -> None:
    migrate.upgrade(throwaway_database_url)
    app = create_app(make_settings(throwaway_database_url, tmp_path))
    failures: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def appender(number: int) -> None:
        try:
            start.wait()
            for _ in range(TRANSACTIONS_PER_THREAD):
                with app.app_context(), db.transaction() as session:
                    entries = [
                        AuditEntry(action=Action.AUDIT_READ, object_id=f"thread-{number}")
                    ] * ENTRIES_PER_TRANSACTION
                    append_entries(session, entries)
        except BaseException as error:  # reported below; a thread cannot fail the test itself
            failures.append(error)

    threads = [threading.Thread(target=appender, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    expected = THREADS * TRANSACTIONS_PER_THREAD * ENTRIES_PER_TRANSACTION
    with app.app_context():
        seqs = list(db.session.scalars(sa.select(AuditEvent.seq).order_by(AuditEvent.seq)))
    assert seqs == list(range(expected))
    result = verify(app)
    assert result.ok, result.problems
    db.engine_of(app).dispose()


postgres_only = pytest.mark.skipif(
    not os.environ.get("RFL_TEST_DATABASE_URL"), reason="database roles and triggers are PostgreSQL's"
)
APP_ROLE = "rfl_app"


@pytest.fixture
def app_role_url(throwaway_database_url: str) -> str:
    """The throwaway database migrated by its owner, and a URL connecting as the application role."""
    admin = make_engine(throwaway_database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if connection.scalar(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}) is None:
            connection.execute(sa.text(f"CREATE ROLE {APP_ROLE} LOGIN"))
    admin.dispose()
    migrate.upgrade(throwaway_database_url)
    return (
        make_url(throwaway_database_url)
        .set(username=APP_ROLE, password=None)
        .render_as_string(hide_password=False)
    )


@postgres_only
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_checkpoints SET note = ''",
    ],
)
def test_the_application_role_may_not_change_the_audit_log(
    app_role_url: str, throwaway_database_url: str, tmp_path: Path, statement: str
) -> None:
    app = create_app(make_settings(app_role_url, tmp_path))
    fill_log(app, 2)  # INSERT and SELECT are allowed
    engine = make_engine(app_role_url)

    with engine.connect() as connection, pytest.raises(DBAPIError, match="permission denied"):
        connection.execute(sa.text(statement))

    engine.dispose()
    db.engine_of(app).dispose()


@postgres_only
@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events", "TRUNCATE audit_events"]
)
def test_the_trigger_refuses_changes_even_to_the_owner(
    app_role_url: str, throwaway_database_url: str, tmp_path: Path, statement: str
) -> None:
    app = create_app(make_settings(throwaway_database_url, tmp_path))
    fill_log(app, 2)
    owner = make_engine(throwaway_database_url)

    with owner.connect() as connection, pytest.raises(DBAPIError, match="append-only"):
        connection.execute(sa.text(statement))

    owner.dispose()
    db.engine_of(app).dispose()


@postgres_only
def test_the_application_role_keeps_full_access_to_other_tables(app_role_url: str) -> None:
    engine = make_engine(app_role_url)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM throttle_hits"))
        connection.execute(sa.text("UPDATE users SET active = active"))
    engine.dispose()
