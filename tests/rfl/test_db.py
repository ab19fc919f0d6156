"""The database boundary: read-only transactions, which errors mean "not now", and private SQLite files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import DBAPIError

from rfl.accounts.models import User
from rfl.db import db, is_unavailable, make_engine
from rfl.db import one_of as db_one_of
from tests.conftest import Factories, FakeClock
from tests.rfl.http.test_transactions import write_lock_held_elsewhere


def test_a_read_only_transaction_lets_writers_commit_meanwhile(
    committed_app: Flask, clock: FakeClock
) -> None:
    user = Factories(committed_app, clock).user()

    with committed_app.app_context(), db.transaction(read_only=True) as reading:
        assert reading.scalar(sa.select(User.name).where(User.id == user.id)) == "Test User"
        # A long job (verification, an export) is reading: a writer must not wait for it to end.
        with db.transaction() as writing:
            writing.execute(sa.update(User).where(User.id == user.id).values(name="Renamed"))

    with committed_app.app_context():
        assert db.session.scalar(sa.select(User.name).where(User.id == user.id)) == "Renamed"


def test_a_read_only_transaction_cannot_write(committed_app: Flask, clock: FakeClock) -> None:
    user = Factories(committed_app, clock).user()

    with committed_app.app_context():
        with pytest.raises(DBAPIError) as refused, db.transaction(read_only=True) as reading:
            reading.execute(sa.update(User).where(User.id == user.id).values(name="Renamed"))
        assert db.session.scalar(sa.select(User.name).where(User.id == user.id)) == "Test User"
    assert not is_unavailable(refused.value)  # a bug to fix, not a reason to retry


def test_a_read_only_transaction_reads_while_another_connection_holds_the_write_lock(
    committed_app: Flask, clock: FakeClock
) -> None:
    user = Factories(committed_app, clock).user()

    with write_lock_held_elsewhere(committed_app), committed_app.app_context():
        with db.transaction(read_only=True) as reading:
            assert reading.scalar(sa.select(User.name).where(User.id == user.id)) == "Test User"
        with pytest.raises(DBAPIError) as busy, db.transaction() as writing:
            writing.execute(sa.update(User).where(User.id == user.id).values(name="Renamed"))

    assert is_unavailable(busy.value)


def test_errors_of_the_statement_itself_are_not_unavailability(committed_app: Flask) -> None:
    with committed_app.app_context(), pytest.raises(DBAPIError) as failed:
        db.session.execute(sa.text("SELECT * FROM no_such_table"))

    assert not is_unavailable(failed.value)


def test_a_new_sqlite_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "rfl.sqlite3"
    old_umask = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{path}")
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        modes = {
            name: stat.S_IMODE(os.stat(tmp_path / name).st_mode)
            for name in ("rfl.sqlite3", "rfl.sqlite3-wal", "rfl.sqlite3-shm")
        }
        engine.dispose()
    finally:
        os.umask(old_umask)

    assert modes == dict.fromkeys(modes, 0o600)


def test_an_existing_sqlite_database_left_readable_is_made_private_on_start(tmp_path: Path) -> None:
    path = tmp_path / "rfl.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        # Keep the -wal and -shm files in place while the modes are loosened and the engine recreated.
        files = [path, path.with_name("rfl.sqlite3-wal"), path.with_name("rfl.sqlite3-shm")]
        for file in files:
            file.chmod(0o644)

        make_engine(f"sqlite:///{path}").dispose()

        assert {stat.S_IMODE(file.stat().st_mode) for file in files} == {0o600}
    engine.dispose()


def test_one_of_finds_the_rows_whose_column_holds_any_of_the_values(app: Flask, make: Factories) -> None:
    first, _, third = (make.user() for _ in range(3))
    with app.app_context(), db.transaction() as session:
        wanted = db_one_of(session, User.id, [first.id, third.id])
        found = set(session.scalars(sa.select(User.id).where(wanted)))
        none = list(session.scalars(sa.select(User.id).where(db_one_of(session, User.id, []))))

    assert found == {first.id, third.id}
    assert none == []
