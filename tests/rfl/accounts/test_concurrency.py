"""Simultaneous wrong guesses for one email never get past the limit (real concurrent connections)."""

from __future__ import annotations

import threading
from pathlib import Path

from rfl import create_app, migrate
from rfl.db import db
from rfl.extensions import app_services
from tests.conftest import make_settings

GUESSES = 12


def test_concurrent_guesses_are_capped_at_the_limit(throwaway_database_url: str, tmp_path: Path) -> None:
    migrate.upgrade(throwaway_database_url)
    app = create_app(make_settings(throwaway_database_url, tmp_path), sleep=lambda seconds: None)
    statuses: list[int] = []
    start = threading.Barrier(GUESSES)

    def guess(number: int) -> None:
        client = app.test_client()
        start.wait()
        response = client.post(
            "/api/v1/auth/token",
            json={"email": "target@example.org", "password": f"guess number {number}"},
            environ_base={"REMOTE_ADDR": f"198.51.100.{number}"},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(GUESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.engine_of(app).dispose()

    limit = app_services(app).settings.login_throttle.max_failures_per_email
    assert sorted(statuses) == [401] * limit + [429] * (GUESSES - limit)
