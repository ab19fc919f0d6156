"""The outbox drain when the database cannot serve: it pauses, and no message is counted as failed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from rfl.db import db
from rfl.matches import worker
from rfl.matches.worker import DrainReport
from rfl.outbox.models import OutboxMessage
from tests.conftest import Factories, FakeClock
from tests.rfl.http.test_transactions import write_lock_held_elsewhere
from tests.rfl.matches.conftest import seed_pairs


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
