"""Two officers deciding one candidate at once: exactly one wins, the other gets 409 with the state.

Real concurrent connections on a database of its own (SQLite serialises writers; PostgreSQL runs them
side by side, which is where the compare-and-set and the unique index have to hold).
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import sqlalchemy as sa

from rfl import create_app, migrate
from rfl.accounts.models import Role
from rfl.accounts.services import actor_of
from rfl.db import db
from rfl.errors import Conflict
from rfl.extensions import app_services
from rfl.identity import Actor
from rfl.matches import services
from rfl.matches.models import MatchCandidate, MatchStatus
from rfl.matches.worker import drain
from tests.conftest import Factories, FakeClock, make_settings, unaudited
from tests.rfl.matches.conftest import seed_pairs


def decide_at_once(app: object, decisions: list[tuple[Actor, str, uuid.UUID]]) -> list[str]:
    """Run each (officer, decision, candidate) in its own thread and connection, released together."""
    outcomes: list[str] = []
    start = threading.Barrier(len(decisions))

    def decide(officer: Actor, decision: str, candidate_id: uuid.UUID) -> None:
        with app.app_context():  # type: ignore[attr-defined]
            start.wait()
            try:
                with db.transaction() as session:
                    crypto = app_services().crypto(session)
                    clock = app_services().clock()
                    if decision == "confirm":
                        services.confirm(
                            session, crypto, officer, candidate_id, note=None, now=clock, audit=unaudited
                        )
                    else:
                        services.reject(
                            session, crypto, officer, candidate_id, reason="no", now=clock, audit=unaudited
                        )
                outcomes.append(decision)
            except Conflict as conflict:
                outcomes.append(f"409:{(conflict.current or {}).get('status')}")

    threads = [threading.Thread(target=decide, args=decision) for decision in decisions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_a_confirm_and_a_reject_race_and_exactly_one_wins(
    throwaway_database_url: str, tmp_path: Path
) -> None:
    migrate.upgrade(throwaway_database_url)
    clock = FakeClock()
    app = create_app(make_settings(throwaway_database_url, tmp_path), clock=clock)
    make = Factories(app, clock)
    germany, italy = make.society("DE", country="DE"), make.society("IT")
    seed_pairs(app, make, germany, italy)
    with app.app_context():
        drain()
        candidate = db.session.scalars(sa.select(MatchCandidate).order_by(MatchCandidate.id)).first()
        assert candidate is not None
        # Proposals re-scored while the outbox drained have moved the version on already.
        candidate_id, version_before = candidate.id, candidate.version
    officers = [actor_of(make.user(Role.TRACING_OFFICER, society=s)) for s in (germany, italy)]

    outcomes = decide_at_once(
        app, [(officers[0], "confirm", candidate_id), (officers[1], "reject", candidate_id)]
    )

    with app.app_context():
        final = db.session.get_one(MatchCandidate, candidate_id)
    # The loser is told the state it lost to.
    assert outcomes in (["409:confirmed", "confirm"], ["409:rejected", "reject"])
    assert final.status in (MatchStatus.CONFIRMED, MatchStatus.REJECTED)
    assert final.version == version_before + 1  # moved on once
    db.engine_of(app).dispose()


def test_two_sightings_confirmed_for_one_request_at_once_leave_one_confirmed(
    throwaway_database_url: str, tmp_path: Path
) -> None:
    migrate.upgrade(throwaway_database_url)
    clock = FakeClock()
    app = create_app(make_settings(throwaway_database_url, tmp_path), clock=clock)
    make = Factories(app, clock)
    germany, italy = make.society("DE", country="DE"), make.society("IT")
    seed_pairs(app, make, germany, italy)
    seed_pairs(app, make, germany, make.society("GR", country="GR"))  # each person registered twice
    with app.app_context():
        drain()
        rows = db.session.execute(sa.select(MatchCandidate.tracing_request_id, MatchCandidate.id)).all()
    by_request: dict[uuid.UUID, list[uuid.UUID]] = {}
    for request_id, candidate_id in rows:
        by_request.setdefault(request_id, []).append(candidate_id)
    first, second = next(ids for ids in by_request.values() if len(ids) >= 2)[:2]
    officer = actor_of(make.user(Role.TRACING_OFFICER, society=germany))

    outcomes = decide_at_once(app, [(officer, "confirm", first), (officer, "confirm", second)])

    assert outcomes == ["409:proposed", "confirm"]
    with app.app_context():
        statuses = db.session.scalars(
            sa.select(MatchCandidate.status).where(MatchCandidate.id.in_([first, second]))
        )
        assert sorted(s.value for s in statuses) == ["confirmed", "proposed"]
    db.engine_of(app).dispose()
