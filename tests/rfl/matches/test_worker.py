"""The outbox drain: a message that fails holds up none of its batch; when the database cannot serve, the
drain pauses and no message is counted as failed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from rfl.accounts.models import Role
from rfl.db import db
from rfl.matches import worker
from rfl.matches.models import MatchCandidate
from rfl.matches.worker import DrainReport
from rfl.outbox.models import OutboxMessage
from tests.border import REQUEST
from tests.conftest import DEFAULT_PASSWORD, Factories, FakeClock
from tests.rfl.http.test_transactions import write_lock_held_elsewhere
from tests.rfl.matches.conftest import seed_pairs

MARKER = "MARKER-7Q4Z"  # stands for personal data an exception might quote


@pytest.fixture
def make(committed_app: Flask, clock: FakeClock) -> Factories:
    return Factories(committed_app, clock)


def attempts(app: Flask) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(sa.select(OutboxMessage.attempts)))


def test_a_drain_that_meets_a_held_lock_stops_without_failing_a_message_and_the_next_does_them(
    committed_app: Flask, make: Factories
) -> None:
    """Two processes of the embedded default: one holds the write lock past the wait while the other
    drains after its answer. The drain used to raise (or count an attempt against the message)."""
    seed_pairs(committed_app, make, make.society("DE", country="DE"), make.society("IT"))
    waiting = attempts(committed_app)

    with write_lock_held_elsewhere(committed_app), committed_app.app_context():
        paused = worker.drain()

    assert paused == DrainReport(processed=0, proposed=0, failed=0)
    assert attempts(committed_app) == waiting == [0] * len(waiting)
    with committed_app.app_context():
        resumed = worker.drain()
    assert (resumed.processed, resumed.failed) == (len(waiting), 0)
    assert attempts(committed_app) == []


def test_a_message_that_fails_holds_up_none_of_its_batch_and_has_its_attempt_counted(
    committed_app: Flask, make: Factories, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    seed_pairs(committed_app, make, make.society("DE", country="DE"), make.society("IT"))
    with committed_app.app_context():
        statement = sa.select(OutboxMessage.object_id).order_by(OutboxMessage.created_at, OutboxMessage.id)
        subjects = list(db.session.scalars(statement))
    broken = subjects[len(subjects) // 2]
    real_propose_many = worker.propose_many

    def failing_for_one_record(*args, **kwargs):  # type: ignore[no-untyped-def]
        if broken in args[4]:  # the record ids
            raise RuntimeError(f"a bug quoting {MARKER}")
        return real_propose_many(*args, **kwargs)

    monkeypatch.setattr(worker, "propose_many", failing_for_one_record)
    with committed_app.app_context():
        drained = worker.drain()
        candidates = db.session.scalar(sa.select(sa.func.count()).select_from(MatchCandidate))
        left = db.session.execute(sa.select(OutboxMessage.object_id, OutboxMessage.attempts)).all()

    assert (drained.processed, drained.failed) == (len(subjects) - 1, 1)
    assert drained.proposed == candidates > 0
    assert [tuple(row) for row in left] == [(broken, 1)]
    assert "proposal_failed" in caplog.messages
    assert MARKER not in caplog.text


def test_a_write_that_enqueued_nothing_leaves_the_outbox_to_the_next_save_which_drains_it(
    committed_app: Flask, make: Factories
) -> None:
    germany = make.society("DE", country="DE")
    seed_pairs(committed_app, make, germany, make.society("IT"))  # waiting: saved by another process
    waiting = attempts(committed_app)
    officer = make.user(Role.CASEWORKER, society=germany)
    client = committed_app.test_client()

    login = client.post("/api/v1/auth/token", json={"email": officer.email, "password": DEFAULT_PASSWORD})
    login.close()  # what follows an answer runs once it is sent
    after_login = attempts(committed_app)
    saved = client.post("/api/v1/tracing-requests", headers=make.auth(officer), json=REQUEST)
    saved.close()

    assert login.status_code == 201
    assert after_login == waiting  # a login is a write, but it enqueued nothing
    assert saved.status_code == 201
    assert attempts(committed_app) == []  # its own message and the older ones, after the answer


class Deadlock(Exception):
    sqlstate = "40P01"  # what psycopg's DeadlockDetected carries


def test_a_batch_the_database_undid_for_a_deadlock_is_redone_a_message_at_a_time(
    committed_app: Flask, make: Factories, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_pairs(committed_app, make, make.society("DE", country="DE"), make.society("IT"))
    waiting = attempts(committed_app)
    real_propose_many = worker.propose_many

    def deadlocking_in_batches(*args, **kwargs):  # type: ignore[no-untyped-def]
        if len(args[4]) > 1:  # the record ids: two batches proposing the same pairs at once
            raise sa.exc.OperationalError("INSERT ...", {}, Deadlock())
        return real_propose_many(*args, **kwargs)

    monkeypatch.setattr(worker, "propose_many", deadlocking_in_batches)
    with committed_app.app_context():
        drained = worker.drain()

    assert (drained.processed, drained.failed) == (len(waiting), 0)
    assert attempts(committed_app) == []
