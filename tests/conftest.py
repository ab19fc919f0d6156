"""Shared fixtures: a migrated database per test session, one rolled-back transaction per test.

The suite runs on SQLite by default and on PostgreSQL when ``RFL_TEST_DATABASE_URL`` is set (a fresh
database is created beside the one named there and dropped afterwards).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy.engine import Engine, make_url

from rfl import create_app, migrate
from rfl.accounts import services as accounts
from rfl.accounts.models import Role, Society, SocietyType, User
from rfl.accounts.passwords import Argon2Parameters
from rfl.audit.entries import AuditEntry
from rfl.db import db, make_engine
from rfl.extensions import app_services
from rfl.keys import ensure_key_files
from rfl.records.models import RecordMixin
from rfl.settings import Environment, Settings

if TYPE_CHECKING:
    from tests.border import Border

T = TypeVar("T")

# The machine is shared (CI, helpers, benchmarks): generating examples may be slow, and no per-example
# deadline or speed health check may turn that into a failure. What is tested is unchanged.
hypothesis_settings.register_profile(
    "shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("shared-machine")

# Cheap Argon2 for tests only; production defaults are never weakened.
CHEAP_ARGON2 = Argon2Parameters(time_cost=1, memory_cost_kib=8, parallelism=1)
DEFAULT_PASSWORD = "correct horse battery staple"
TEST_SECRET_KEY = "test-secret-key-" + "x" * 32
COMMITTED_APP_LOCK_TIMEOUT = timedelta(milliseconds=200)


class FakeClock:
    """A clock the tests move by hand (token expiry, throttling windows)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def _create_database(base_url: str) -> str:
    """A fresh database beside ``base_url`` (PostgreSQL), or a new SQLite file."""
    url = make_url(base_url)
    name = f"rfl_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_database(base_url: str, url: str) -> None:
    name = make_url(url).database
    admin = make_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_base_url() -> str | None:
    return os.environ.get("RFL_TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def make_throwaway_database(
    postgres_base_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], str]]:
    """Factory of empty databases of the suite's kind; all are dropped at the end of the session."""
    created: list[str] = []

    def make() -> str:
        if postgres_base_url is None:
            path = tmp_path_factory.mktemp("db") / "rfl.sqlite3"
            url = f"sqlite:///{path}"
        else:
            url = _create_database(postgres_base_url)
        created.append(url)
        return url

    yield make
    if postgres_base_url is not None:
        for url in created:
            _drop_database(postgres_base_url, url)


@pytest.fixture
def throwaway_database_url(make_throwaway_database: Callable[[], str]) -> str:
    """An empty database of its own, for tests that commit or use several connections."""
    return make_throwaway_database()


@pytest.fixture(scope="session")
def database_url(make_throwaway_database: Callable[[], str]) -> str:
    url = make_throwaway_database()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> list[float]:
    """The delays the application asked for (recorded instead of slept)."""
    return []


def make_settings(database_url: str, instance_dir: Path, **overrides: object) -> Settings:
    """Testing settings; the key files are created in ``instance_dir`` when missing."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    key_file = instance_dir / "keys.json"
    signing_key_file = instance_dir / "audit-signing-key.json"
    ensure_key_files(key_file, signing_key_file, "rfl/test-audit-log")
    settings = Settings(
        env=Environment.TESTING,
        instance_dir=instance_dir,
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        key_file=key_file,
        audit_signing_key_file=signing_key_file,
        password_hashing=CHEAP_ARGON2,
        checkpoint_origin="rfl/test-audit-log",
    )
    return settings.with_overrides(**overrides)


@pytest.fixture(scope="session")
def session_instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One instance folder (key files) for the session: the shared database's rings live in it."""
    return tmp_path_factory.mktemp("instance")


@pytest.fixture
def settings(database_url: str, session_instance_dir: Path) -> Settings:
    return make_settings(database_url, session_instance_dir)


@pytest.fixture
def app(settings: Settings, engine: Engine, clock: FakeClock, sleeps: list[float]) -> Iterator[Flask]:
    """The application with every session inside one transaction that is rolled back after the test."""
    application = create_app(settings, clock=clock, sleep=sleeps.append)
    with engine.connect() as connection:
        transaction = connection.begin()
        db.bind_to(application, connection)
        # No app context stays pushed: each request (and each helper below) opens and closes its own
        # session, so one session's rollback never reaches work another session already released.
        yield application
        transaction.rollback()
    db.engine_of(application).dispose()


@pytest.fixture
def committed_app(
    throwaway_database_url: str, tmp_path: Path, clock: FakeClock, sleeps: list[float]
) -> Iterator[Flask]:
    """The application on a migrated database of its own, committing for real: for tests of locks and
    connections, which need transactions of several connections rather than one rolled-back one.

    Lock waits are short (``COMMITTED_APP_LOCK_TIMEOUT``) so a test of a held lock is quick.
    """
    migrate.upgrade(throwaway_database_url)
    settings = make_settings(
        throwaway_database_url, tmp_path / "instance", db_lock_timeout=COMMITTED_APP_LOCK_TIMEOUT
    )
    application = create_app(settings, clock=clock, sleep=sleeps.append)
    yield application
    db.engine_of(application).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def unaudited(entry: AuditEntry) -> None:
    """The audit sink of test set-up: what a test arranges is not what it observes in the log."""


def tamper(app: Flask, model: type[RecordMixin], record_id: str, **values: Any) -> None:
    """What a database writer without the keys can do: change plain columns in place."""
    with app.app_context(), db.transaction() as session:
        session.execute(
            sa.update(model)
            .where(model.id == uuid.UUID(record_id))
            .values(**values)
            .execution_options(synchronize_session=False)
        )


@dataclass
class Factories:
    """Factory fixtures that create committed-in-the-test-transaction objects through the services."""

    app: Flask
    clock: FakeClock

    def society(
        self, code: str | None = None, *, country: str | None = "IT", name: str = "Test Society"
    ) -> Society:
        code = code or f"T{uuid.uuid4().hex[:6].upper()}"
        with self.app.app_context(), db.transaction() as session:
            return accounts.create_society(
                session,
                app_services(self.app).keys,
                code=code,
                name=name,
                type=SocietyType.NATIONAL_SOCIETY,
                country=country,
                audit=unaudited,
            )

    def user(
        self,
        role: Role = Role.CASEWORKER,
        *,
        society: Society | None = None,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        active: bool = True,
    ) -> User:
        society = society or self.society()
        with self.app.app_context(), db.transaction() as session:
            user = accounts.create_user(
                session,
                app_services(self.app).passwords,
                society=session.merge(society),
                email=email or f"user-{uuid.uuid4().hex[:10]}@example.org",
                name="Test User",
                role=role,
                password=password,
                audit=unaudited,
            )
            user.active = active
            return user

    def token(self, user: User, *, ttl: timedelta = timedelta(hours=1)) -> str:
        with self.app.app_context(), db.transaction() as session:
            return accounts.issue_token(session, session.merge(user), now=self.clock.now, ttl=ttl).token

    def auth(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def scalar(self, statement: sa.Select[tuple[T]]) -> T | None:
        """Run one query in a short-lived session of its own."""
        with self.app.app_context():
            return db.session.scalar(statement)

    def actor_headers(self, role: Role, society: Society | None = None) -> dict[str, str]:
        return self.auth(self.user(role, society=society))


@pytest.fixture
def make(app: Flask, clock: FakeClock) -> Factories:
    return Factories(app, clock)


@pytest.fixture
def border(make: Factories) -> Border:
    """Germany asks for people, Italy registers them: a caseworker and tracing officers on each side."""
    from tests.border import Border

    return Border(make)
