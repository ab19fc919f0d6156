"""Uploads run on the Celery workers like matching proposals (needs RFL_TEST_BROKER_URL)."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from celery.contrib.testing.worker import start_worker
from flask import Flask

from rfl import create_app, migrate
from rfl.accounts.models import Role
from rfl.db import db
from rfl.exchange.models import ImportJob, ImportStatus
from rfl.matches import tasks
from rfl.matches.settings import Executor, MatchingSettings
from rfl.outbox.models import OutboxMessage
from rfl.records.models import Sighting, TracingRequest
from tests.conftest import Factories, FakeClock, make_settings
from tests.rfl.exchange import samples

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


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_an_upload_is_imported_by_a_worker_and_its_records_proposed_for(
    celery_app: tuple[Flask, FakeClock],
) -> None:
    app, clock = celery_app
    make = Factories(app, clock)
    officer = make.actor_headers(Role.TRACING_OFFICER, make.society("IT"))
    client = app.test_client()

    with start_worker(tasks.celery_app, perform_ping_check=False):
        response = client.post(
            "/api/v1/imports",
            headers=officer,
            data={
                "format": "pfif",
                "legal_basis": "vital_interest",
                "file": (io.BytesIO(samples.PFIF_14), "list.xml"),
            },
            content_type="multipart/form-data",
        )
        response.close()
        deadline = time.monotonic() + 60
        while (count(app, OutboxMessage) or count(app, TracingRequest) == 0) and time.monotonic() < deadline:
            time.sleep(0.05)

    assert response.status_code == 202
    assert count(app, OutboxMessage) == 0
    assert (count(app, TracingRequest), count(app, Sighting)) == (1, 1)
    with app.app_context():
        assert db.session.scalars(sa.select(ImportJob)).one().status is ImportStatus.DONE
