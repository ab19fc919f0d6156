"""The proposer a job shares: each record read once per version, within a bound."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from matching import Matcher, Placeholders
from rfl.accounts.models import Role, Society
from rfl.accounts.services import actor_of
from rfl.audit.entries import AuditEntry
from rfl.db import db
from rfl.extensions import app_services
from rfl.matches import proposals
from rfl.matches.models import MatchCandidate
from rfl.matches.proposals import Proposer, blocked_candidates, propose
from rfl.matches.settings import MatchingSettings
from rfl.matches.store import current_matcher
from rfl.records import services as records
from rfl.records.models import Sighting, TracingRequest
from rfl.records.schemas import SightingInputSchema, TracingRequestInputSchema
from rfl.records.seals import Protection
from rfl.records.services import SIGHTINGS, TRACING_REQUESTS, RecordType
from tests.border import REQUEST, SIGHTING
from tests.conftest import Factories, tamper, unaudited
from tests.rfl.matches.conftest import PEOPLE, seed_pairs

PREPARED_AFTER = 5  # psycopg's prepare_threshold: executions of one query before it is prepared


@pytest.fixture
def seeded(app: Flask, make: Factories) -> Flask:
    seed_pairs(app, make, make.society("DE", country="DE"), make.society("IT"))
    return app


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    read: list[str] = []
    real = proposals.canonical_records

    def counted(crypto, kind, records):  # type: ignore[no-untyped-def]
        read.extend(str(record.id) for record in records)
        return real(crypto, kind, records)

    monkeypatch.setattr(proposals, "canonical_records", counted)
    return read


def test_a_jobs_heads_keep_the_verified_protection_and_failed_seals_are_checked_again(seeded: Flask) -> None:
    with seeded.app_context(), db.transaction() as session:
        sighting_id = session.scalars(sa.select(Sighting.id).order_by(Sighting.id)).first()
    assert sighting_id is not None
    audited: list[AuditEntry] = []

    def protection(proposer: Proposer) -> Protection | None:
        with seeded.app_context(), db.transaction() as session:
            crypto = app_services(seeded).crypto(session)
            return proposer.heads(session, crypto, audited.append, SIGHTINGS, [sighting_id])[
                sighting_id
            ].protection

    job = Proposer()
    first = protection(job)  # verified in the job's first transaction
    tamper(seeded, Sighting, str(sighting_id), no_cross_border=True)  # behind the application's back
    kept = protection(job)
    another_job = Proposer()
    failed, again = protection(another_job), protection(another_job)

    assert first is not None
    assert first.intact
    assert not first.no_cross_border
    assert kept == first  # what was verified at that row version, not the altered column
    assert failed is not None
    assert not failed.intact  # the seal fails: read at its most restrictive
    assert failed.no_cross_border
    assert again == failed
    assert [entry.action for entry in audited] == ["sighting.seal_invalid"] * 2  # never kept as verified


def test_a_record_is_read_again_once_its_row_changed(seeded: Flask, reads: list[str]) -> None:
    with seeded.app_context(), db.transaction() as session:
        crypto = app_services(seeded).crypto(session)
        proposer = Proposer()
        sighting = session.scalars(sa.select(Sighting).limit(1)).one()
        first = proposer.views(session, crypto, SIGHTINGS, [sighting])
        again = proposer.views(session, crypto, SIGHTINGS, [sighting])
        sighting.flagged_minor = True  # any write of the row moves its version on
        session.flush()
        changed = proposer.views(session, crypto, SIGHTINGS, [sighting])

    assert again == first
    assert reads == [str(sighting.id), str(sighting.id)]
    assert changed[0].canonical == first[0].canonical


def test_a_proposer_keeps_at_most_its_bound_and_still_answers_for_more(
    seeded: Flask, reads: list[str]
) -> None:
    with seeded.app_context(), db.transaction() as session:
        crypto = app_services(seeded).crypto(session)
        sightings = list(session.scalars(sa.select(Sighting).order_by(Sighting.id)))
        bounded = Proposer(keep=2)
        views = bounded.views(session, crypto, SIGHTINGS, sightings)
        last_two = bounded.views(session, crypto, SIGHTINGS, sightings[-2:])

    assert len(sightings) > 2
    assert [view.canonical["id"] for view in views] == [str(s.id) for s in sightings]
    assert len(reads) == len(sightings)  # the last two were still kept
    assert [view.canonical["id"] for view in last_two] == [str(s.id) for s in sightings[-2:]]


def blocking(
    app: Flask, limits: MatchingSettings
) -> tuple[list[list[uuid.UUID]], list[list[uuid.UUID]], int]:
    """Every request's blocked sightings, found for all requests at once and for each alone, and the
    index statements blocking all at once took."""
    statements: list[str] = []

    def capture(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM blind_index_entries" in statement:
            statements.append(statement)

    with app.app_context(), db.transaction() as session:
        crypto = app_services(app).crypto(session)
        requests = list(session.scalars(sa.select(TracingRequest).order_by(TracingRequest.id)))
        keysets = [view.keys for view in Proposer().views(session, crypto, TRACING_REQUESTS, requests)]
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", capture)
        try:
            together = blocked_candidates(session, crypto, SIGHTINGS, keysets, limits)
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", capture)
        alone = [blocked_candidates(session, crypto, SIGHTINGS, [keys], limits)[0] for keys in keysets]
    return together, alone, len(statements)


@pytest.mark.parametrize(
    "limits",
    [MatchingSettings(), MatchingSettings(max_key_records=2, max_candidates=1)],
    ids=["default limits", "crowded values and a cap"],
)
def test_blocking_many_records_at_once_finds_for_each_what_blocking_it_alone_finds(
    namesakes: Flask, limits: MatchingSettings
) -> None:
    together, alone, statements = blocking(namesakes, limits)

    assert together == alone
    assert len(together) == 3 * len(PEOPLE)
    # One society holds sightings under one index key: its values are counted, then their rows read,
    # whatever the number of records blocked.
    assert statements == 2


def the_first_persons_namesakes(app: Flask) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """The first person's first tracing request, and the sightings of that person."""
    given, family, *_ = PEOPLE[0]
    with app.app_context(), db.transaction() as session:
        crypto = app_services(app).crypto(session)
        requests = list(session.scalars(sa.select(TracingRequest).order_by(TracingRequest.id)))
        sightings = list(session.scalars(sa.select(Sighting).order_by(Sighting.id)))
        request_views = Proposer().views(session, crypto, TRACING_REQUESTS, requests)
        sighting_views = Proposer().views(session, crypto, SIGHTINGS, sightings)
    first = next(
        r.id for r, v in zip(requests, request_views, strict=True) if v.canonical["given_name"] == given
    )
    alike = [
        s.id
        for s, v in zip(sightings, sighting_views, strict=True)
        if v.canonical["full_name"] == f"{family} {given}"
    ]
    return first, alike


@pytest.mark.parametrize(("max_key_records", "found"), [(2, 0), (3, 3)])
def test_a_value_more_records_share_than_the_limit_finds_nothing(
    namesakes: Flask, max_key_records: int, found: int
) -> None:
    request_id, alike = the_first_persons_namesakes(namesakes)
    together, _, _ = blocking(namesakes, MatchingSettings(max_key_records=max_key_records))
    requests = sorted_request_ids(namesakes)

    blocked = together[requests.index(request_id)]

    assert len(alike) == 3
    assert len(set(blocked) & set(alike)) == found


def test_the_cap_keeps_the_records_sharing_the_most_values_then_the_first_by_id(namesakes: Flask) -> None:
    request_id, alike = the_first_persons_namesakes(namesakes)
    together, _, _ = blocking(namesakes, MatchingSettings(max_candidates=1))  # 2 with the headroom

    blocked = together[sorted_request_ids(namesakes).index(request_id)]

    assert blocked == sorted(alike)[:2]


def sorted_request_ids(app: Flask) -> list[uuid.UUID]:
    with app.app_context(), db.transaction() as session:
        return list(session.scalars(sa.select(TracingRequest.id).order_by(TracingRequest.id)))


def test_new_candidates_are_stored_however_often_one_connection_inserts_them(seeded: Flask) -> None:
    """PostgreSQL's driver prepares a statement run often on one connection: the insert must still
    find the open pair's unique index (from the index's own predicate, not from bound parameters)."""
    stored = []
    with seeded.app_context(), db.transaction() as session:
        crypto = app_services(seeded).crypto(session)
        matcher = current_matcher(session, crypto)
        ids = list(session.scalars(sa.select(TracingRequest.id)))
        for _ in range(PREPARED_AFTER + 1):
            session.execute(sa.delete(MatchCandidate))
            for request_id in ids:
                report = propose(
                    session,
                    crypto,
                    matcher,
                    TRACING_REQUESTS.name,
                    request_id,
                    limits=app_services(seeded).settings.matching,
                    audit=unaudited,
                )
                stored.append(report.stored)

    assert len(ids) == len(PEOPLE)
    assert sum(stored) == len(PEOPLE) * (PREPARED_AFTER + 1)  # each person's pair, every time


def test_a_matcher_reading_birth_dates_its_own_way_scores_the_pair_as_it_reads_it(
    app: Flask, make: Factories
) -> None:
    """A model fitted on records whose 1 January is a real birthday (not "day and month unknown", the
    usual reading every record is parsed with first) scores each pair with the records read its way."""
    requesting, registering = make.society("DE", country="DE"), make.society("IT")
    request, sighting = copy.deepcopy(REQUEST), copy.deepcopy(SIGHTING)
    request["sought_person"] |= {"given_name": "Ahmad", "family_name": "Karimi", "birth_date": "1990-01-01"}
    sighting["person"] = {"full_name": "Karimi Ahmad", "birth_date": "1990-06-15", "sex": "M"}
    save(app, make, requesting, TRACING_REQUESTS, request)
    save(app, make, registering, SIGHTINGS, sighting)
    with app.app_context(), db.transaction() as session:
        crypto = app_services(app).crypto(session)
        usual = current_matcher(session, crypto)
        literal = Matcher(
            usual.model,
            usual.frequencies,
            exclusivity=usual.exclusivity,
            placeholders=Placeholders(new_year=False),
        )
        [request_id] = session.scalars(sa.select(TracingRequest.id))
        [person] = Proposer().views(
            session, crypto, TRACING_REQUESTS, [session.get_one(TracingRequest, request_id)]
        )
        [found] = Proposer().views(session, crypto, SIGHTINGS, list(session.scalars(sa.select(Sighting))))
        probability = {}
        for matcher in (usual, literal):
            session.execute(sa.delete(MatchCandidate))
            propose(
                session,
                crypto,
                matcher,
                TRACING_REQUESTS.name,
                request_id,
                limits=MatchingSettings(floor=0.0),
                audit=unaudited,
            )
            probability[matcher] = session.scalars(sa.select(MatchCandidate.match_probability)).one()

    for matcher in (usual, literal):
        [expected] = matcher.score(person.canonical, [found.canonical])
        assert probability[matcher] == pytest.approx(expected.match_probability)
    assert probability[literal] < probability[usual]  # the birth dates disagree, read literally


def save(app: Flask, make: Factories, society: Society, kind: RecordType, body: dict[str, Any]) -> None:
    author = actor_of(make.user(Role.CASEWORKER, society=society))
    schema = TracingRequestInputSchema() if kind is TRACING_REQUESTS else SightingInputSchema()
    with app.app_context(), db.transaction() as session:
        crypto = app_services(app).crypto(session)
        document = schema.load(body)
        records.create_record(session, crypto, author, kind, document, now=make.clock.now, audit=unaudited)
