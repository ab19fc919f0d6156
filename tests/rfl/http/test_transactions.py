"""The request's transaction: reads take no write lock, and a lock not had in time is a 503.

Runs on a database of its own (``committed_app``) with another connection holding the lock that every
write waits for: SQLite's write lock, or on PostgreSQL its equivalent, an EXCLUSIVE lock on every table
(reads go on, every INSERT, UPDATE and DELETE waits).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from rfl.accounts.models import Role, User
from rfl.audit.models import AuditEvent
from rfl.db import db, make_engine
from rfl.extensions import app_services
from rfl.http.auth import public
from rfl.http.transactions import writes_on_safe_method
from rfl.models import Base
from rfl.records.models import TracingRequest
from tests.conftest import Factories, FakeClock
from tests.rfl.http.test_errors import assert_problem
from tests.rfl.records.conftest import TRACING_REQUEST, tracing_request


@contextmanager
def write_lock_held_elsewhere(app: Flask) -> Iterator[None]:
    """Another connection holds, until the block ends, the lock that every write of ``app`` waits for."""
    engine = make_engine(app_services(app).settings.database_url)
    try:
        with engine.connect() as connection:
            transaction = connection.begin()  # BEGIN IMMEDIATE on SQLite (rfl.db)
            if connection.dialect.name == "postgresql":
                tables = ", ".join(f'"{name}"' for name in Base.metadata.tables)
                connection.execute(sa.text(f"LOCK TABLE {tables} IN EXCLUSIVE MODE"))
            yield
            transaction.rollback()
    finally:
        engine.dispose()


def count(app: Flask, model: type[Any]) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


@pytest.fixture
def make(committed_app: Flask, clock: FakeClock) -> Factories:
    return Factories(committed_app, clock)


@pytest.fixture
def client(committed_app: Flask) -> FlaskClient:
    return committed_app.test_client()


def test_a_held_lock_makes_writes_and_audited_reads_503_while_plain_reads_go_on(
    committed_app: Flask, client: FlaskClient, make: Factories
) -> None:
    headers = make.actor_headers(Role.CASEWORKER)
    created = client.post("/api/v1/tracing-requests", json=TRACING_REQUEST, headers=headers)
    url = f"/api/v1/tracing-requests/{created.json['id']}"
    records, entries = count(committed_app, TracingRequest), count(committed_app, AuditEvent)

    with write_lock_held_elsewhere(committed_app):
        write = client.post(
            "/api/v1/tracing-requests", json=tracing_request(given_name="Other"), headers=headers
        )
        audited_read = client.get(url, headers=headers)
        plain_read = client.get("/api/v1/me", headers=headers)  # reveals nothing new: not audited

    for refused in (write, audited_read):
        assert_problem(refused, 503)
        assert refused.json["type"] == "urn:rfl:problem:database-unavailable"
        assert refused.headers["Retry-After"] == "1"  # the configured wait (200 ms), rounded up
        assert refused.json["retry_after"] == 1
    # The read was computed but not delivered: personal data never leaves without its audit entry.
    assert "Al-Hassan" not in audited_read.get_data(as_text=True)
    assert "ETag" not in audited_read.headers
    assert plain_read.status_code == 200
    assert plain_read.json["role"] == "caseworker"
    # Nothing was half-committed: no record, no audit entry.
    assert count(committed_app, TracingRequest) == records
    assert count(committed_app, AuditEvent) == entries
    # Once the lock is free, the same read is answered and audited.
    assert client.get(url, headers=headers).status_code == 200
    assert count(committed_app, AuditEvent) == entries + 1


def test_the_configured_wait_is_the_databases_own_lock_timeout(committed_app: Flask) -> None:
    with committed_app.app_context():
        connection = db.session.connection()
        if connection.dialect.name == "sqlite":
            wait = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
            assert wait == 200
        else:
            assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == "200ms"


def test_a_refused_read_still_leaves_its_audit_entry(
    committed_app: Flask, client: FlaskClient, make: Factories
) -> None:
    society = make.society()
    owner = make.actor_headers(Role.CASEWORKER, society)
    created = client.post("/api/v1/tracing-requests", json=TRACING_REQUEST, headers=owner)
    stranger = make.actor_headers(Role.CASEWORKER)
    entries = count(committed_app, AuditEvent)

    response = client.get(f"/api/v1/tracing-requests/{created.json['id']}", headers=stranger)

    assert response.status_code == 404
    assert count(committed_app, AuditEvent) == entries + 1  # the denied read, written by a short write


def _renaming_view() -> Callable[[], dict[str, bool]]:
    def rename_everyone() -> dict[str, bool]:
        db.session.execute(sa.update(User).values(name="Renamed"))
        return {"ok": True}

    return rename_everyone


def test_a_get_runs_in_a_read_only_transaction_unless_its_view_says_it_writes(
    committed_app: Flask, client: FlaskClient, make: Factories
) -> None:
    committed_app.add_url_rule("/test/unmarked", "unmarked", public(_renaming_view()))
    committed_app.add_url_rule("/test/marked", "marked", public(writes_on_safe_method(_renaming_view())))
    user = make.user()

    unmarked = client.get("/test/unmarked")
    name_after_unmarked = make.scalar(sa.select(User.name).where(User.id == user.id))
    marked = client.get("/test/marked")

    assert_problem(unmarked, 500)
    assert name_after_unmarked == "Test User"
    assert marked.status_code == 200
    assert make.scalar(sa.select(User.name).where(User.id == user.id)) == "Renamed"


def test_every_reading_route_works_in_its_read_only_transaction(
    committed_app: Flask, client: FlaskClient, make: Factories
) -> None:
    society = make.society()
    caseworker = make.actor_headers(Role.CASEWORKER, society)
    auditor = make.actor_headers(Role.AUDITOR, society)
    admin_user = make.user(Role.ADMIN, society=society)
    admin = make.auth(admin_user)
    record = client.post("/api/v1/tracing-requests", json=TRACING_REQUEST, headers=caseworker).json["id"]
    reads = {
        "/healthz": {},
        "/api/v1/me": caseworker,
        f"/api/v1/tracing-requests/{record}": caseworker,
        "/api/v1/tracing-requests": caseworker,
        "/api/v1/sightings": caseworker,
        "/api/v1/users": admin,
        f"/api/v1/users/{admin_user.id}": admin,
        "/api/v1/audit/events": auditor,
        "/api/v1/audit/checkpoint": auditor,  # signs a checkpoint: marked as writing
        f"/api/v1/audit/proof?object_id={record}": auditor,
        "/api/v1/audit/consistency?from_size=1": auditor,
        "/api/v1/audit/verify": auditor,
    }

    statuses = {path: client.get(path, headers=headers).status_code for path, headers in reads.items()}

    assert statuses == dict.fromkeys(reads, 200)


def test_requests_driven_inside_one_application_context_each_leave_their_audit_entries(
    committed_app: Flask, client: FlaskClient, make: Factories
) -> None:
    """Tests and benchmarks drive the app in process inside an application context, which every
    request then shares (its ``g``): the second request's entries went into the first one's list,
    already written, and were lost. Refusals were appended again at a later failure."""
    owner = make.actor_headers(Role.CASEWORKER)
    stranger = make.actor_headers(Role.CASEWORKER)
    entries = count(committed_app, AuditEvent)

    with committed_app.app_context():
        first = client.post("/api/v1/tracing-requests", json=TRACING_REQUEST, headers=owner)
        second = client.post("/api/v1/tracing-requests", json=TRACING_REQUEST, headers=owner)
        denied = client.get(f"/api/v1/tracing-requests/{first.json['id']}", headers=stranger)
        failed = client.post("/api/v1/tracing-requests", json={"bad": "document"}, headers=owner)

    assert (first.status_code, second.status_code, denied.status_code, failed.status_code) == (
        201,
        201,
        404,
        422,
    )
    assert count(committed_app, AuditEvent) == entries + 3  # two creations and the denied read
