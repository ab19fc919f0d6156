"""A run's catalogue of the sightings: it blocks as the blind index does, and follows the database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from rfl.accounts.models import Role
from rfl.accounts.services import actor_of
from rfl.audit.entries import AuditEntry
from rfl.db import db
from rfl.extensions import app_services
from rfl.identity import Actor
from rfl.matches import proposals
from rfl.matches.catalogue import Catalogue
from rfl.matches.models import MatchCandidate
from rfl.matches.proposals import Proposer
from rfl.matches.settings import MatchingSettings
from rfl.matches.store import current_matcher
from rfl.records import services as records
from rfl.records.models import Sighting, TracingRequest
from rfl.records.services import SIGHTINGS, TRACING_REQUESTS
from tests.conftest import Factories, tamper, unaudited
from tests.rfl.matches.conftest import PEOPLE, seed_pairs


def proposed_with(app: Flask, proposer: Proposer, limits: MatchingSettings) -> set[tuple[str, str, float]]:
    """What proposing for every tracing request with ``proposer`` stores (pair and probability); the
    candidates are deleted afterwards, so each call starts from none."""
    with app.app_context(), db.transaction() as session:
        crypto = app_services(app).crypto(session)
        requests = list(session.scalars(sa.select(TracingRequest.id).order_by(TracingRequest.id)))
        proposals.propose_many(
            session,
            crypto,
            current_matcher(session, crypto),
            TRACING_REQUESTS.name,
            requests,
            limits=limits,
            audit=unaudited,
            proposer=proposer,
        )
        stored = session.execute(
            sa.select(
                MatchCandidate.tracing_request_id,
                MatchCandidate.sighting_id,
                MatchCandidate.match_probability,
            )
        )
        found = {(str(r), str(s), round(p, 9)) for r, s, p in stored}
        session.execute(sa.delete(MatchCandidate))
    return found


def with_catalogue() -> Proposer:
    return Proposer(catalogue=Catalogue(SIGHTINGS))


@pytest.mark.parametrize(
    "limits",
    # "Hassan", the name of one person and the father of another, is shared by 6 sightings
    [MatchingSettings(), MatchingSettings(max_key_records=3, max_candidates=1)],
    ids=["default limits", "crowded keys and a cap"],
)
def test_a_catalogue_of_the_sightings_proposes_what_the_blind_index_does(
    namesakes: Flask, limits: MatchingSettings
) -> None:
    """A run blocks in memory against every sighting: the same candidates as the index finds, a key
    that too many share finding none yet counting for those another key found."""
    by_index = proposed_with(namesakes, Proposer(), limits)

    by_catalogue = proposed_with(namesakes, with_catalogue(), limits)

    assert by_index
    assert by_catalogue == by_index


def post(catalogue: Catalogue, head: proposals.Head, keys: set[str]) -> None:
    """Post a record as read at its head's version, with these blocking keys (nothing else read)."""
    view = proposals.MatchView({}, frozenset(keys), parsed=None)
    catalogue._post(head, (str(head.id), head.version), view)


def test_a_catalogue_ranks_by_every_key_shared_even_those_too_crowded_to_find_records() -> None:
    """As the index's candidates are ranked once decrypted: "c1".."c3" find no one (four records hold
    each), but they count for the record that "k1" found, also once it was posted again (changed)."""
    society = uuid.uuid4()
    catalogue = Catalogue(SIGHTINGS)
    fewer, more, *crowd = sorted(uuid.uuid4() for _ in range(5))  # ``fewer`` first by id
    posted = {more: {"k1", "c1", "c2", "c3"}, fewer: {"k1", "k2"}} | {r: {"c1", "c2", "c3"} for r in crowd}
    for record_id, keys in posted.items():
        post(catalogue, proposals.Head(record_id, society, 1, 1, None), keys)
    catalogue._unpost(more)
    post(catalogue, proposals.Head(more, society, 2, 2, None), posted[more])

    [found] = catalogue.blocked(
        [frozenset({"k1", "k2", "c1", "c2", "c3"})], MatchingSettings(max_key_records=3)
    )

    assert [head.id for head in found] == [more, fewer]


def test_among_records_sharing_as_many_keys_a_catalogue_keeps_the_first_by_id() -> None:
    """As the index does (the cap is twice ``max_candidates``): whatever order they were posted in."""
    society = uuid.uuid4()
    catalogue = Catalogue(SIGHTINGS)
    ids = [uuid.uuid4() for _ in range(6)]
    for record_id in sorted(ids, reverse=True):
        post(catalogue, proposals.Head(record_id, society, 1, 1, None), {"k1", "k2"})

    [found] = catalogue.blocked([frozenset({"k1"})], MatchingSettings(max_candidates=1))

    assert [head.id for head in found] == sorted(ids)[:2]


def test_a_catalogue_blocks_on_what_it_holds_now_after_records_left_and_came_back() -> None:
    """A key's postings are kept as arrays between chunks: a record unposted (closed, or changed and
    posted again with other keys) is no longer found by its old keys, and one posted is."""
    society = uuid.uuid4()
    catalogue = Catalogue(SIGHTINGS)
    leaving, renamed, staying = sorted(uuid.uuid4() for _ in range(3))
    for record_id in (leaving, renamed, staying):
        post(catalogue, proposals.Head(record_id, society, 1, 1, None), {"k1", "k2"})
    assert [[head.id for head in found] for found in catalogue.blocked(KEYSETS, MatchingSettings())] == [
        [leaving, renamed, staying],
        [leaving, renamed, staying],
    ]

    catalogue._unpost(leaving)
    catalogue._unpost(renamed)
    post(catalogue, proposals.Head(renamed, society, 2, 2, None), {"k2", "k3"})

    found = catalogue.blocked([*KEYSETS, frozenset({"k3"})], MatchingSettings())
    assert [[head.id for head in heads] for heads in found] == [[staying], [renamed, staying], [renamed]]


KEYSETS = [frozenset({"k1"}), frozenset({"k2"})]


def test_a_catalogue_follows_the_sightings_changed_created_and_closed_since_it_was_read(
    app: Flask, make: Factories
) -> None:
    germany, italy = make.society("DE", country="DE"), make.society("IT")
    seed_pairs(app, make, germany, italy)
    registrar = actor_of(make.user(Role.CASEWORKER, society=italy))
    proposer = with_catalogue()
    before = proposed_with(app, proposer, MatchingSettings())
    renamed, closed = sighting_of(app, PEOPLE[0]), sighting_of(app, PEOPLE[1])
    given, family, born, father = PEOPLE[2]
    person = {"full_name": f"{family} {given}", "birth_date": born, "father_name": father, "sex": "M"}
    edit(app, make, registrar, renamed, lambda document: {"person": document["person"] | person})
    edit(app, make, registrar, closed, lambda _: {"status": "closed"})
    seed_pairs(app, make, germany, italy)  # new sightings (and requests) of everyone

    after = proposed_with(app, proposer, MatchingSettings())

    assert after == proposed_with(app, Proposer(), MatchingSettings())
    assert {s for _, s, _ in before} >= {str(renamed), str(closed)}
    assert str(closed) not in {s for _, s, _ in after}
    third_persons_requests = {r for r, s, _ in after if s == str(renamed)}
    assert third_persons_requests
    assert third_persons_requests == {r for r, s, _ in after if s == str(sighting_of(app, PEOPLE[2]))}


def edit(
    app: Flask,
    make: Factories,
    registrar: Actor,
    sighting_id: uuid.UUID,
    changes: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    """Save the sighting with ``changes`` (made from its document) through the record services."""
    with app.app_context(), db.transaction() as session:
        crypto = app_services(app).crypto(session)
        view = records.read_record(session, crypto, registrar, SIGHTINGS, sighting_id, audit=unaudited)
        records.update_record(
            session,
            crypto,
            registrar,
            SIGHTINGS,
            view,
            document=view.document | changes(view.document),
            now=make.clock.now,
            audit=unaudited,
        )


def sighting_of(app: Flask, person: tuple[str, str, str, str]) -> uuid.UUID:
    """The first sighting (by id) whose full name is ``person``'s."""
    given, family, *_ = person
    with app.app_context(), db.transaction() as session:
        crypto = app_services(app).crypto(session)
        sightings = list(session.scalars(sa.select(Sighting).order_by(Sighting.id)))
        views = Proposer().views(session, crypto, SIGHTINGS, sightings)
    return next(
        s.id for s, v in zip(sightings, views, strict=True) if v.canonical["full_name"] == f"{family} {given}"
    )


def test_a_sighting_whose_seal_fails_is_no_candidate_and_each_refresh_checks_it_again(
    app: Flask, make: Factories
) -> None:
    seed_pairs(app, make, make.society("DE", country="DE"), make.society("IT"))
    sighting_id = sighting_of(app, PEOPLE[0])
    audited: list[AuditEntry] = []
    proposer = with_catalogue()
    tamper(app, Sighting, str(sighting_id), no_cross_border=True)  # behind the application's back
    for _ in range(2):
        with app.app_context(), db.transaction() as session:
            crypto = app_services(app).crypto(session)
            proposer.catalogue.refresh(session, crypto, proposer, audited.append)  # type: ignore[union-attr]

    proposed = proposed_with(app, proposer, MatchingSettings())

    assert proposed
    assert str(sighting_id) not in {s for _, s, _ in proposed}
    assert [entry.action for entry in audited].count("sighting.seal_invalid") == 2
