"""One throttle for every limit: hits in the database, shared by every worker, refused with the wait."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from rfl import create_app, migrate
from rfl.accounts.limits import Bucket, Limit
from rfl.accounts.throttle import Hit, Throttle
from rfl.db import db
from rfl.errors import TooManyAttempts
from tests.conftest import make_settings

SEARCHES = Bucket("search_user", Limit(3, timedelta(minutes=10)))
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_two_workers_count_the_same_hits(throwaway_database_url: str, tmp_path: Path) -> None:
    """Two applications (two workers, two connection pools) on one database: each sees the other's
    hits, so neither grants more than the limit between them; the refusal says how long to wait."""
    migrate.upgrade(throwaway_database_url)
    workers = [create_app(make_settings(throwaway_database_url, tmp_path / f"w{n}")) for n in range(2)]
    throttle = Throttle(secret_key="k" * 40)
    hit = Hit(SEARCHES, throttle.key("search-user", "someone"))

    waits = []
    for number in range(5):
        with workers[number % 2].app_context(), db.transaction() as session:
            try:
                throttle.hit(session, [hit], now=NOW + timedelta(minutes=number))
                waits.append(0)
            except TooManyAttempts as refused:
                waits.append(refused.retry_after_seconds)
    # The first of the 3 hits (at minute 0) leaves the window at minute 10.
    assert waits == [0, 0, 0, 7 * 60, 6 * 60]
    with workers[0].app_context(), db.transaction() as session:
        throttle.hit(session, [hit], now=NOW + timedelta(minutes=10, seconds=1))  # the window moved on
    for worker in workers:
        db.engine_of(worker).dispose()


def test_concurrent_hits_never_exceed_the_limit(throwaway_database_url: str, tmp_path: Path) -> None:
    migrate.upgrade(throwaway_database_url)
    app = create_app(make_settings(throwaway_database_url, tmp_path, db_lock_timeout=timedelta(seconds=30)))
    throttle = Throttle(secret_key="k" * 40)
    hit = Hit(SEARCHES, throttle.key("search-user", "someone"))
    start = threading.Barrier(8)
    outcomes: list[bool] = []

    def attempt() -> None:
        with app.app_context():
            start.wait()
            try:
                with db.transaction() as session:
                    throttle.hit(session, [hit], now=NOW)
                outcomes.append(True)
            except TooManyAttempts:
                outcomes.append(False)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.engine_of(app).dispose()
    assert outcomes.count(True) == 3
    assert len(outcomes) == 8


def test_several_keys_are_counted_in_one_statement_and_the_longest_wait_is_given(
    throwaway_database_url: str, tmp_path: Path
) -> None:
    """A search counts against its user's and its request's limits: both tallies are one statement, the
    counts before each hit are returned, and a refusal waits for the key that frees up last."""
    migrate.upgrade(throwaway_database_url)
    app = create_app(make_settings(throwaway_database_url, tmp_path))
    throttle = Throttle(secret_key="k" * 40)
    user = Hit(SEARCHES, throttle.key("search-user", "someone"))
    request = Hit(Bucket("search_request", Limit(2, timedelta(hours=1))), throttle.key("search-request", "r"))
    statements: list[str] = []
    event.listen(db.engine_of(app), "before_cursor_execute", lambda *args: statements.append(args[2]))

    earlier = []
    with app.app_context():
        for minute in (0, 5):
            with db.transaction() as session:
                earlier.append(
                    throttle.hit(session, [user, request], now=NOW + timedelta(minutes=minute)).earlier
                )
        statements.clear()
        with pytest.raises(TooManyAttempts) as refused, db.transaction() as session:
            throttle.hit(session, [user, request], now=NOW + timedelta(minutes=6))

    assert earlier == [[0, 0], [1, 1]]
    # The request's two hits (minutes 0 and 5) leave room at minute 60: 54 minutes from minute 6.
    assert refused.value.retry_after_seconds == 54 * 60
    assert (
        len([s for s in statements if "FROM throttle_hits" in s and s.lstrip().upper().startswith("SELECT")])
        == 1
    )
    db.engine_of(app).dispose()


def test_keys_are_keyed_hashes() -> None:
    throttle = Throttle(secret_key="k" * 40)
    other = Throttle(secret_key="o" * 40)

    key = throttle.key("search-user", "someone")

    assert key == throttle.key("search-user", "someone")
    assert key != other.key("search-user", "someone")
    assert key != throttle.key("search-request", "someone")
    assert b"someone" not in key
