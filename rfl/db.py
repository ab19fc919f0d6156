"""Persistence plumbing: declarative base, column types, and the per-request session.

One transaction per request: services only ``flush()``; the request boundary (or a CLI command) commits.
A request that only reads (``begin_request(read_only=True)``) reads in a read-only transaction that
takes no write lock, and whatever it must record at its end (audit entries) is written by a short
transaction of its own.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy import MetaData, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite drops the offset; everything stored is UTC.
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


UUIDPk = Annotated[uuid.UUID, mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)]
CreatedAt = Annotated[datetime, mapped_column(UTCDateTime, nullable=False, default=utcnow)]
UpdatedAt = Annotated[datetime, mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)]


def enum_column(enum: type[StrEnum], name: str) -> sa.Enum:
    """An enumeration stored as text with a CHECK constraint: portable, and adding a value is a plain
    migration."""
    return sa.Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    def __repr__(self) -> str:
        # Ids only: a repr can end up in a log or a traceback, personal data must not.
        ident = getattr(self, "id", None)
        return f"<{type(self).__name__} id={ident}>"


class IdMixin:
    id: Mapped[UUIDPk]


# Execution option of the connections whose transactions only read (see ``Database.transaction``).
READ_ONLY = "rfl_read_only"

# SQLite's primary result codes that mean "not now" rather than "wrong": another connection holds the
# lock beyond the busy timeout, or the database file cannot be opened.
_SQLITE_NOT_NOW = frozenset({5, 6, 14})  # SQLITE_BUSY, SQLITE_LOCKED, SQLITE_CANTOPEN


def make_engine(url: str, *, lock_timeout: float | None = None, **options: Any) -> Engine:
    """Create an engine with the project's safety options for every dialect.

    ``lock_timeout`` (seconds) bounds how long a statement waits for a lock held by another
    transaction (SQLite's write lock; PostgreSQL's row and advisory locks) before it fails; None keeps
    the driver's default.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _protect_sqlite_files(parsed)
        if lock_timeout is not None:
            options.setdefault("connect_args", {})["timeout"] = lock_timeout
    elif parsed.get_backend_name() == "postgresql":
        # A connection that died (server restart) is replaced at checkout instead of failing a request.
        options.setdefault("pool_pre_ping", True)
    # hide_parameters keeps bound values (personal data) out of exception messages and logs.
    engine = sa.create_engine(parsed, hide_parameters=True, **options)
    if engine.dialect.name == "sqlite":
        _make_sqlite_transactional(engine)
    elif engine.dialect.name == "postgresql":
        _make_postgresql_transactions_bounded(engine, lock_timeout)
    return engine


def dialect_insert(session: Session, model: type[Any] | sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into ``model`` (a model or a table) in the session's dialect, which offers
    ``on_conflict_do_nothing``."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def one_of(session: Session, column: Any, values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """``column IN values``; on PostgreSQL one array parameter (``= ANY``): the driver converts such a
    statement once and prepares it, where an IN list of thousands of parameters is converted anew
    every time (a tenth of a re-scoring run's time at 10k records)."""
    if session.get_bind().dialect.name == "postgresql":
        array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == sa.any_(array)  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


# SQLSTATE class 40: the database rolled the transaction back to resolve a conflict with another one
# (a deadlock, a serialization failure); the same work in a new transaction may well succeed.
_ROLLED_BACK_FOR_ANOTHER = "40"


def is_conflict(error: BaseException) -> bool:
    """Whether ``error`` is the database undoing a transaction that conflicted with another one."""
    if not isinstance(error, sa.exc.DBAPIError):
        return False
    return str(getattr(error.orig, "sqlstate", None) or "").startswith(_ROLLED_BACK_FOR_ANOTHER)


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot serve now (retrying later may succeed).

    True for a lock not had within the wait, a pool without a free connection, and a database that
    refuses or lost the connection; False for errors of the statement itself (they are bugs).
    """
    if isinstance(error, sa.exc.TimeoutError):
        return True
    if not isinstance(error, sa.exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if isinstance(error.orig, sqlite3.Error):
        return (getattr(error.orig, "sqlite_errorcode", 0) & 0xFF) in _SQLITE_NOT_NOW
    # The DB-API's OperationalError is the class of connection loss, shutdown, exhausted resources,
    # lock timeouts and serialization failures; programming errors have classes of their own.
    return isinstance(error, sa.exc.OperationalError)


def _protect_sqlite_files(url: URL) -> None:
    """Keep an SQLite database readable by its owner only: the file and its -wal and -shm companions.

    A new database file is created 0600 before SQLite opens it, and SQLite gives the companion files
    it creates the database file's mode; files left more open by an earlier version are tightened.
    """
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite will answer that it cannot open the file; nothing to protect yet
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if candidate.exists() and stat.S_IMODE(candidate.stat().st_mode) & 0o077:
            candidate.chmod(0o600)


def _make_sqlite_transactional(engine: Engine) -> None:
    """Let SQLAlchemy own transactions on SQLite (savepoints work) and enforce foreign keys.

    The pysqlite driver otherwise begins transactions lazily on its own, which breaks SAVEPOINT (the
    SQLAlchemy documentation's "Serializable isolation / Savepoints / Transactional DDL" recipe).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL lets one connection commit while others hold read transactions (several workers, and the
        # separate transaction that records a failed login while its request is still open).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            # A deferred transaction takes no lock: in WAL mode it reads a snapshot while writers go on.
            # query_only makes an attempt to write fail at once instead of taking the lock unnoticed.
            connection.exec_driver_sql("PRAGMA query_only=ON")
            connection.exec_driver_sql("BEGIN")
        else:
            # IMMEDIATE takes the write lock up front: transactions queue (busy timeout) instead of
            # failing when two of them read and then both try to write, e.g. to append to the audit log.
            connection.exec_driver_sql("PRAGMA query_only=OFF")
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _make_postgresql_transactions_bounded(engine: Engine, lock_timeout: float | None) -> None:
    """Bound lock waits on PostgreSQL, and make read-only transactions read-only in the server too."""
    if lock_timeout is not None:
        milliseconds = max(1, round(lock_timeout * 1000))

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"SET lock_timeout = {milliseconds}")
            cursor.close()
            dbapi_connection.commit()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            # One snapshot for the whole transaction, as on SQLite: a long reading job (verification)
            # must not see entries and checkpoints committed between two of its queries.
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


class _DatabaseState:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)
        self.read_only_sessions: sessionmaker[Session] = sessionmaker(
            engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )

    def sessions_for(self, *, read_only: bool) -> sessionmaker[Session]:
        return self.read_only_sessions if read_only else self.sessions


class Database:
    """The Flask extension that owns each application's engine and gives each request one session.

    State lives in ``app.extensions``, so several applications (tests, CLI) can coexist in one process.
    """

    def init_app(self, app: Flask, url: str, *, lock_timeout: float | None = None) -> None:
        app.extensions["rfl.db"] = _DatabaseState(make_engine(url, lock_timeout=lock_timeout))
        app.teardown_appcontext(self._close_session)

    @staticmethod
    def _state(app: Flask | None = None) -> _DatabaseState:
        state: _DatabaseState = (app or current_app).extensions["rfl.db"]
        return state

    @property
    def engine(self) -> Engine:
        return self._state().engine

    def engine_of(self, app: Flask) -> Engine:
        return self._state(app).engine

    def bind_to(self, app: Flask, connection: Connection) -> None:
        """Run every session inside ``connection``'s open transaction (tests roll it back afterwards)."""
        sessions = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        state = self._state(app)
        state.sessions = state.read_only_sessions = sessions

    def new_session(self, *, read_only: bool = False) -> Session:
        return self._state().sessions_for(read_only=read_only)()

    def begin_request(self, *, read_only: bool) -> None:
        """Say how the current request's session will be used, before it is opened.

        A read-only request reads without taking a write lock; what it must record at its end
        (``before_commit`` work, e.g. audit entries) is written by a separate write transaction.
        """
        g.rfl_read_only = read_only

    @property
    def session(self) -> Session:
        """The session of the current application context, created on first use."""
        if "rfl_db_session" not in g:
            g.rfl_db_session = self.new_session(read_only=g.get("rfl_read_only", False))
        session: Session = g.rfl_db_session
        return session

    def current_session(self) -> Session | None:
        """The session of this context if one was opened, else None (for the request boundary)."""
        session: Session | None = g.get("rfl_db_session")
        return session

    def record_even_if_failing(self, work: Callable[[Session], None]) -> None:
        """Run ``work`` in a transaction of its own after a failure has rolled the request back.

        For facts that must outlive the refusal they cause, such as a failed login (throttling).
        """
        pending: list[Callable[[Session], None]] = g.setdefault("rfl_failure_work", [])
        pending.append(work)

    def before_commit(self, work: Callable[[Session], None]) -> None:
        """Run ``work`` just before the request commits (not if the request fails).

        It runs in the request's session, or for a read-only request in a write transaction of its own.
        """
        pending: list[Callable[[Session], None]] = g.setdefault("rfl_commit_work", [])
        pending.append(work)

    def end_request(self, succeeded: bool) -> None:
        """The request boundary.

        Success: run the before-commit work, then commit (a read-only request ends its reading
        transaction first and runs that work in a write transaction of its own). Failure: roll back,
        then run and commit only the work registered with ``record_even_if_failing``.
        """
        if succeeded:
            self._commit_request()
        else:
            self._roll_back_request()

    def _commit_request(self) -> None:
        work: list[Callable[[Session], None]] = g.pop("rfl_commit_work", [])
        g.pop("rfl_failure_work", None)  # for a failure only: not left to a later request sharing ``g``
        session = self.current_session()
        if g.get("rfl_read_only", False):
            if session is not None:
                # End the snapshot before writing: on SQLite a reading transaction cannot become a
                # writing one once another connection has committed (SQLITE_BUSY_SNAPSHOT).
                session.rollback()
            self._run_in_write_transaction(work)
            return
        if session is None and not work:
            return
        session = self.session
        for item in work:
            item(session)
        session.commit()

    def _roll_back_request(self) -> None:
        g.pop("rfl_commit_work", None)
        work: list[Callable[[Session], None]] = g.pop("rfl_failure_work", [])
        session = self.current_session()
        if session is not None:
            session.rollback()
        self._run_in_write_transaction(work)

    def _run_in_write_transaction(self, work: list[Callable[[Session], None]]) -> None:
        if not work:
            return
        with self.transaction() as session:
            for item in work:
                item(session)

    def abandon_request(self) -> None:
        """Drop the request's session and pending work without writing (the database cannot serve)."""
        g.pop("rfl_commit_work", None)
        g.pop("rfl_failure_work", None)
        self._close_session(None)

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Session]:
        """A separate session committed when the block succeeds, rolled back when it raises.

        ``read_only=True`` is for long reading jobs (verification, exports): on SQLite it takes no write
        lock, so writers go on meanwhile; on PostgreSQL it is REPEATABLE READ, READ ONLY. Either way it
        reads one snapshot, and writing in it fails.
        """
        session = self.new_session(read_only=read_only)
        try:
            yield session
            if read_only:
                session.rollback()
            else:
                session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _close_session(self, _exc: BaseException | None) -> None:
        session: Session | None = g.pop("rfl_db_session", None)
        if session is not None:
            session.close()


db = Database()
