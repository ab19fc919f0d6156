"""Beyond one machine: the outbox relayed to Celery workers through Redis, and lost relays swept.

Needs a Redis broker: set RFL_TEST_BROKER_URL (``.ci/run`` starts Redis and sets it), the way
RFL_TEST_DATABASE_URL adds PostgreSQL to the suite.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from celery.contrib.testing.worker import start_worker
from flask import Flask
from sqlalchemy.orm.exc import StaleDataError

from rfl import create_app, migrate
from rfl.accounts.models import Role
from rfl.cli import main
from rfl.db import db
from rfl.matches import tasks
from rfl.matches.models import MatchCandidate, MatchRunChunk
from rfl.matches.settings import Executor, MatchingSettings
from rfl.matches.worker import rescore_chunk
from rfl.outbox.models import OutboxMessage
from tests.border import REQUEST, SIGHTING
from tests.conftest import Factories, FakeClock, make_settings
from tests.rfl.matches.conftest import PEOPLE, seed_pairs

BROKER = os.environ.get("RFL_TEST_BROKER_URL")
pytestmark = pytest.mark.skipif(not BROKER, reason="set RFL_TEST_BROKER_URL to test with a Redis broker")


@pytest.fixture
def celery_app(throwaway_database_url: str, tmp_path: Path) -> Iterator[tuple[Flask, FakeClock]]:
    migrate.upgrade(throwaway_database_url)
    clock = FakeClock()
    matching = MatchingSettings(executor=Executor.CELERY, broker_url=BROKER or "")
    app = create_app(make_settings(throwaway_database_url, tmp_path, matching=matching), clock=clock)
    tasks.bind(app)
    tasks.celery_app.control.purge()
    yield app, clock
    db.engine_of(app).dispose()


def outbox_size(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) or 0


def wait_for_empty_outbox(app: Flask, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while outbox_size(app) and time.monotonic() < deadline:
        time.sleep(0.05)


def save_pair(app: Flask, make: Factories) -> None:
    client = app.test_client()
    germany, italy = make.society("DE", country="DE"), make.society("IT")
    client.post(
        "/api/v1/tracing-requests", headers=make.actor_headers(Role.CASEWORKER, germany), json=REQUEST
    ).close()
    client.post(
        "/api/v1/sightings", headers=make.actor_headers(Role.CASEWORKER, italy), json=SIGHTING
    ).close()


def test_saves_are_relayed_to_a_worker_that_proposes(celery_app: tuple[Flask, FakeClock]) -> None:
    app, clock = celery_app
    with start_worker(tasks.celery_app, perform_ping_check=False):
        save_pair(app, Factories(app, clock))
        wait_for_empty_outbox(app)

    assert outbox_size(app) == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MatchCandidate)) == 1


def test_a_relay_lost_with_its_worker_is_swept_and_done(celery_app: tuple[Flask, FakeClock]) -> None:
    app, clock = celery_app
    save_pair(app, Factories(app, clock))  # relayed, but no worker is there to take it
    tasks.celery_app.control.purge()  # and the broker loses it
    assert outbox_size(app) == 2

    with app.app_context():
        too_soon = tasks.relay()
    clock.advance(timedelta(minutes=10))
    with start_worker(tasks.celery_app, perform_ping_check=False):
        with app.app_context():
            swept = tasks.relay()
        wait_for_empty_outbox(app)

    assert too_soon == 0  # relayed a moment ago: not yet taken for lost
    assert swept == 2
    assert outbox_size(app) == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MatchCandidate)) == 1


def test_a_rescoring_run_is_split_among_the_workers(celery_app: tuple[Flask, FakeClock]) -> None:
    app, clock = celery_app
    make = Factories(app, clock)
    seed_pairs(app, make, make.society("DE", country="DE"), make.society("IT"))

    with start_worker(tasks.celery_app, perform_ping_check=False):
        result = app.test_cli_runner().invoke(main, ["match", "run"])

    assert result.exit_code == 0, result.output
    assert f"re-scored {len(PEOPLE)} tracing requests" in result.output
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(MatchRunChunk).where(MatchRunChunk.done_at.is_(None))
            )
            == 0
        )
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MatchCandidate)) >= len(PEOPLE)


def test_a_chunk_that_fails_is_tried_again_and_the_run_finishes(
    celery_app: tuple[Flask, FakeClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk undone by an officer deciding one of its candidates meanwhile: the task is retried
    (acknowledged once it raised, nothing else would take the chunk again and the run would wait)."""
    app, clock = celery_app
    make = Factories(app, clock)
    seed_pairs(app, make, make.society("DE", country="DE"), make.society("IT"))
    failures: list[int] = []

    def fails_once(run_id: uuid.UUID, number: int) -> int:
        if not failures:
            failures.append(number)
            raise StaleDataError("a candidate was decided meanwhile")
        return rescore_chunk(run_id, number)

    monkeypatch.setattr(tasks, "rescore_chunk", fails_once)
    with start_worker(tasks.celery_app, perform_ping_check=False):
        result = app.test_cli_runner().invoke(main, ["match", "run", "--wait-seconds", "60"])

    assert failures == [0]
    assert result.exit_code == 0, result.output
