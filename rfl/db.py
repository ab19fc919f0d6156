"""Persistence plumbing: declarative base, column types, and the per-request session.

One transaction per request: services only ``flush()``; the request boundary (or a CLI command) commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Connection, Engine
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


def make_engine(url: str, **options: Any) -> Engine:
    """Create an engine with the project's safety options for every dialect."""
    # hide_parameters keeps bound values (personal data) out of exception messages and logs.
    engine = sa.create_engine(url, hide_parameters=True, **options)
    if engine.dialect.name == "sqlite":
        _make_sqlite_transactional(engine)
    return engine


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
        # IMMEDIATE takes the write lock up front: transactions queue (busy timeout) instead of failing
        # when two of them read and then both try to write, e.g. to append to the audit log.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class _DatabaseState:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)


class Database:
    """The Flask extension that owns each application's engine and gives each request one session.

    State lives in ``app.extensions``, so several applications (tests, CLI) can coexist in one process.
    """

    def init_app(self, app: Flask, url: str) -> None:
        app.extensions["rfl.db"] = _DatabaseState(make_engine(url))
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
        self._state(app).sessions = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

    def new_session(self) -> Session:
        return self._state().sessions()

    @property
    def session(self) -> Session:
        """The session of the current application context, created on first use."""
        if "rfl_db_session" not in g:
            g.rfl_db_session = self.new_session()
        session: Session = g.rfl_db_session
        return session

    def current_session(self) -> Session | None:
        """The session of this context if one was opened, else None (for the request boundary)."""
        session: Session | None = g.get("rfl_db_session")
        return session

    def record_even_if_failing(self, work: Callable[[Session], None]) -> None:
        """Run ``work`` in the request's session after a failure has rolled the request back.

        For facts that must outlive the refusal they cause, such as a failed login (throttling).
        """
        pending: list[Callable[[Session], None]] = g.setdefault("rfl_failure_work", [])
        pending.append(work)

    def before_commit(self, work: Callable[[Session], None]) -> None:
        """Run ``work`` in the request's session just before it commits (not if the request fails)."""
        pending: list[Callable[[Session], None]] = g.setdefault("rfl_commit_work", [])
        pending.append(work)

    def end_request(self, succeeded: bool) -> None:
        """The request boundary.

        Success: run the before-commit work, then commit. Failure: roll back, then run and commit only
        the work registered with ``record_even_if_failing``.
        """
        if succeeded:
            work: list[Callable[[Session], None]] = g.pop("rfl_commit_work", [])
        else:
            g.pop("rfl_commit_work", None)
            work = g.pop("rfl_failure_work", [])
            open_session = self.current_session()
            if open_session is not None:
                open_session.rollback()
            if not work:
                return
        if not work and self.current_session() is None:
            return
        session = self.session
        for item in work:
            item(session)
        session.commit()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A separate session committed when the block succeeds, rolled back when it raises."""
        session = self.new_session()
        try:
            yield session
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
