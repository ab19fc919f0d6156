"""Two officers deciding one candidate at once: exactly one wins, the other gets 409 with the state.

Real concurrent connections on a database of its own (SQLite serialises writers; PostgreSQL runs them
side by side, which is where the compare-and-set and the unique index have to hold).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from rfl import create_app, migrate
from rfl.accounts.models import Role
from rfl.accounts.services import actor_of
from rfl.audit.entries import Action, AuditEntry
from rfl.db import db
from rfl.errors import Conflict
from rfl.extensions import app_services
from rfl.identity import Actor
from rfl.matches import services
from rfl.matches.models import MatchCandidate, MatchStatus
from rfl.matches.proposals import propose
from rfl.matches.store import current_matcher
from rfl.matches.worker import drain
from rfl.outbox import services as outbox
from rfl.outbox.models import OutboxMessage
from rfl.records.models import RecordStatus, Sighting, TracingRequest
from rfl.records.services import locked_tracing_request
from tests.conftest import Factories, FakeClock, make_settings, unaudited
from tests.rfl.matches.conftest import seed_pairs

# SQLite serialises writers: no row is ever locked alone there.
ONLY_POSTGRESQL = pytest.mark.skipif(
    not os.environ.get("RFL_TEST_DATABASE_URL"), reason="SQLite serialises writers: no row is locked alone"
)


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


def committing_app(database_url: str, tmp_path: Path) -> tuple[Flask, Factories]:
    """The application on a migrated database of its own, whose connections commit for real."""
    migrate.upgrade(database_url)
    clock = FakeClock()
    app = create_app(make_settings(database_url, tmp_path), clock=clock)
    return app, Factories(app, clock)


def test_a_confirm_and_a_reject_race_and_exactly_one_wins(
    throwaway_database_url: str, tmp_path: Path
) -> None:
    app, make = committing_app(throwaway_database_url, tmp_path)
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
    app, make = committing_app(throwaway_database_url, tmp_path)
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


def test_a_confirmation_waiting_on_a_withdrawal_of_the_same_request_leaves_it_awaiting_consent(
    throwaway_database_url: str, tmp_path: Path
) -> None:
    """The request's confirmed pair withdrawn while another of its pairs is confirmed: the confirmation
    waits for the withdrawal, then moves the request on from the status the withdrawal committed
    (it used to keep the one it had read before waiting, and left the request open with a pair confirmed)."""
    app, make = committing_app(throwaway_database_url, tmp_path)
    germany = make.society("DE", country="DE")
    seed_pairs(app, make, germany, make.society("IT"))
    seed_pairs(app, make, germany, make.society("GR", country="GR"))  # each person registered twice
    with app.app_context():
        drain()
        rows = db.session.execute(sa.select(MatchCandidate.tracing_request_id, MatchCandidate.id)).all()
    by_request: dict[uuid.UUID, list[uuid.UUID]] = {}
    for request_id, candidate_id in rows:
        by_request.setdefault(request_id, []).append(candidate_id)
    request_id, (first, second) = next((r, ids[:2]) for r, ids in by_request.items() if len(ids) >= 2)
    officer = actor_of(make.user(Role.TRACING_OFFICER, society=germany))
    decide(app, officer, "confirm", first)
    withdrawn, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def withdraw_and_hold() -> None:
        try:
            decide(app, officer, "withdraw", first, before_commit=lambda: (withdrawn.set(), release.wait(30)))
        except BaseException as error:  # the test reports it below
            failures.append(error)
            withdrawn.set()

    def confirm_the_other() -> None:
        try:
            decide(app, officer, "confirm", second)
        except BaseException as error:
            failures.append(error)

    holder = threading.Thread(target=withdraw_and_hold)
    holder.start()
    withdrawn.wait(timeout=30)
    confirming = threading.Thread(target=confirm_the_other)
    confirming.start()
    confirming.join(timeout=1.5)  # on PostgreSQL it now waits for the withdrawal
    release.set()
    holder.join()
    confirming.join()

    assert failures == []
    with app.app_context():
        assert db.session.get_one(MatchCandidate, second).status is MatchStatus.CONFIRMED
        assert db.session.get_one(TracingRequest, request_id).status is RecordStatus.AWAITING_CONSENT
    db.engine_of(app).dispose()


@ONLY_POSTGRESQL
def test_a_decision_and_a_proposal_for_the_same_request_do_not_deadlock(
    throwaway_database_url: str, tmp_path: Path
) -> None:
    """A proposal refreshes one of a request's pairs, then inserts another of its pairs (the foreign key
    holds the request's row FOR KEY SHARE); a decision has locked the request, then updates the first
    pair. A plain FOR UPDATE on the request made each wait for the other."""
    app, make = committing_app(throwaway_database_url, tmp_path)
    germany = make.society("DE", country="DE")
    seed_pairs(app, make, germany, make.society("IT"))
    with app.app_context():
        drain()
        pair = db.session.scalars(sa.select(MatchCandidate).order_by(MatchCandidate.id)).first()
        assert pair is not None
        paired = set(
            db.session.scalars(
                sa.select(MatchCandidate.sighting_id).where(
                    MatchCandidate.tracing_request_id == pair.tracing_request_id
                )
            )
        )
        other = next(s for s in db.session.scalars(sa.select(Sighting)) if s.id not in paired)
        first, request_id, another = pair.id, pair.tracing_request_id, (other.id, other.society_id)
        request_society = pair.request_society_id
    officer = actor_of(make.user(Role.TRACING_OFFICER, society=germany))
    refreshed, locked = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def propose() -> None:
        try:
            with app.app_context(), db.transaction() as session:
                session.get_one(MatchCandidate, first).match_weight -= 0.01  # re-scored
                session.flush()
                refreshed.set()
                locked.wait(30)
                session.add(new_pair(request_id, request_society, *another))
        except BaseException as error:  # the test reports it below
            failures.append(error)
            refreshed.set()

    def confirm() -> None:
        try:
            refreshed.wait(30)
            with app.app_context(), db.transaction() as session:
                locked_tracing_request(session, request_id)
                locked.set()
                crypto, clock = app_services().crypto(session), app_services().clock()
                services.confirm(session, crypto, officer, first, note=None, now=clock, audit=unaudited)
        except BaseException as error:
            failures.append(error)
            locked.set()

    threads = [threading.Thread(target=propose), threading.Thread(target=confirm)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.engine_of(app).dispose()

    assert failures == []


def new_pair(
    request_id: uuid.UUID, request_society: uuid.UUID, sighting_id: uuid.UUID, sighting_society: uuid.UUID
) -> MatchCandidate:
    return MatchCandidate(
        id=uuid.uuid4(),
        tracing_request_id=request_id,
        sighting_id=sighting_id,
        request_society_id=request_society,
        sighting_society_id=sighting_society,
        request_match_version=1,
        sighting_match_version=1,
        match_probability=0.9,
        match_weight=3.0,
        model_version="test",
        explanation=[],
        status=MatchStatus.PROPOSED,
        subject_id=uuid.uuid4(),
    )


def decide(
    app: object,
    officer: Actor,
    decision: str,
    candidate_id: uuid.UUID,
    *,
    before_commit: Callable[[], object] = lambda: None,
) -> None:
    """One officer's decision in a transaction of its own (``before_commit`` runs inside it)."""
    with app.app_context(), db.transaction() as session:  # type: ignore[attr-defined]
        crypto, clock = app_services().crypto(session), app_services().clock()
        if decision == "confirm":
            services.confirm(session, crypto, officer, candidate_id, note=None, now=clock, audit=unaudited)
        else:
            services.withdraw(session, crypto, officer, candidate_id, reason="x", now=clock, audit=unaudited)
        session.flush()
        before_commit()


def test_a_pair_proposed_from_both_sides_at_once_is_stored_once_and_neither_proposal_fails(
    throwaway_database_url: str, tmp_path: Path
) -> None:
    """The request's and the sighting's messages taken by two workers at the same moment: the second
    insert of the pair waits on the first's unique-index entry, then finds it committed (and audits
    the creation of no candidate of its own)."""
    app, make = committing_app(throwaway_database_url, tmp_path)
    seed_pairs(app, make, make.society("DE", country="DE"), make.society("IT"))
    with app.app_context():
        drain()  # to learn a true pair; then it is forgotten and proposed again from both sides at once
        with db.transaction() as session:
            request_id, sighting_id = session.execute(
                sa.select(MatchCandidate.tracing_request_id, MatchCandidate.sighting_id).limit(1)
            ).one()
            session.execute(sa.delete(MatchCandidate))
    inserted, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []
    audited: list[AuditEntry] = []

    def propose_for(kind: str, record_id: uuid.UUID, *, hold: bool) -> None:
        with app.app_context():
            try:
                with db.transaction() as session:
                    crypto = app_services().crypto(session)
                    matcher, limits = current_matcher(session, crypto), app_services().settings.matching
                    propose(session, crypto, matcher, kind, record_id, limits=limits, audit=audited.append)
                    if hold:  # the pair is inserted, not yet committed
                        inserted.set()
                        release.wait(timeout=30)
            except BaseException as error:  # the test reports it below
                failures.append(error)
                inserted.set()

    first = threading.Thread(target=propose_for, args=("tracing_request", request_id), kwargs={"hold": True})
    first.start()
    inserted.wait(timeout=30)
    second = threading.Thread(target=propose_for, args=("sighting", sighting_id), kwargs={"hold": False})
    second.start()
    second.join(timeout=1.5)  # on PostgreSQL it now waits on the first's index entry
    release.set()
    first.join()
    second.join()

    assert failures == []
    with app.app_context():
        pairs = db.session.scalars(
            sa.select(MatchCandidate.id).where(
                MatchCandidate.tracing_request_id == request_id, MatchCandidate.status == MatchStatus.PROPOSED
            )
        ).all()
        stored = {str(candidate) for candidate in db.session.scalars(sa.select(MatchCandidate.id))}
    assert len(pairs) == 1
    created = [e.object_id for e in audited if e.action is Action.MATCH_CANDIDATE_CREATE]
    assert str(pairs[0]) in created
    assert set(created) <= stored
    db.engine_of(app).dispose()


@ONLY_POSTGRESQL
def test_a_drain_leaves_a_message_another_worker_holds_and_does_the_rest(
    throwaway_database_url: str, tmp_path: Path
) -> None:
    app, make = committing_app(throwaway_database_url, tmp_path)
    seed_pairs(app, make, make.society("DE", country="DE"), make.society("IT"))
    with app.app_context():
        waiting = backlog_ids(app)
    held, release = threading.Event(), threading.Event()

    def hold_the_oldest() -> None:
        with app.app_context(), db.transaction() as session:
            outbox.take(session, waiting[0])  # as a worker processing it
            held.set()
            release.wait(timeout=60)
            session.rollback()

    holder = threading.Thread(target=hold_the_oldest)
    holder.start()
    held.wait(timeout=30)
    drained: list[object] = []
    draining = threading.Thread(target=lambda: drained.append(_drain_in(app)))
    draining.start()
    draining.join(timeout=30)  # without skipping it would wait on the held row until released
    finished_while_held = not draining.is_alive()
    release.set()
    holder.join()
    draining.join()

    left = backlog_ids(app)
    db.engine_of(app).dispose()

    assert finished_while_held
    assert left == [waiting[0]]  # left to the worker holding it


def backlog_ids(app: object) -> list[uuid.UUID]:
    with app.app_context(), db.transaction() as session:  # type: ignore[attr-defined]
        statement = sa.select(OutboxMessage.id).order_by(OutboxMessage.created_at, OutboxMessage.id)
        return list(session.scalars(statement))


def _drain_in(app: object) -> object:
    with app.app_context():  # type: ignore[attr-defined]
        return drain()
