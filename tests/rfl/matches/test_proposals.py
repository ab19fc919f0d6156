"""The proposer a job shares: each record read once per version, within a bound."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from rfl.db import db
from rfl.extensions import app_services
from rfl.matches import proposals
from rfl.matches.proposals import Proposer
from rfl.records.models import Sighting
from rfl.records.services import SIGHTINGS
from tests.conftest import Factories
from tests.rfl.matches.conftest import seed_pairs


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
