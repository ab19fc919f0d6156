"""Rule 10 in one place: the Python predicate and the SQL condition agree on every case."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask import Flask

from rfl.db import db
from rfl.records import seals
from rfl.records.models import LegalBasis, RecordStatus, Sighting
from rfl.records.restrictions import Viewer, viewer_parameters, visible_condition, visible_to
from tests.conftest import Factories

OWNER = uuid.uuid4()
OTHER = uuid.uuid4()
REQUEST = uuid.uuid4()

CASES = [
    # (no_cross_border, exclude, viewer, visible)
    (False, [], Viewer(OTHER, "DE"), True),
    (True, [], Viewer(OTHER, "DE"), False),
    (True, [], Viewer(OWNER, "IT"), True),
    (False, ["DE"], Viewer(OTHER, "DE"), False),
    (False, ["SE"], Viewer(OTHER, "DE"), True),
    (False, [str(REQUEST)], Viewer(OTHER, "DE"), True),
    (False, [str(REQUEST)], Viewer(OTHER, "DE", REQUEST), False),
    (False, [str(REQUEST)], Viewer(OWNER, "IT", REQUEST), False),  # its own society's excluded request
    (True, [], Viewer(OWNER, "IT", REQUEST), True),  # no_cross_border: its own society's requests only
    (True, [], Viewer(OTHER, "DE", REQUEST), False),
]


@pytest.mark.parametrize("case", CASES)
def test_predicate_and_sql_condition_agree(
    app: Flask, make: Factories, case: tuple[bool, list[str], Viewer, bool]
) -> None:
    no_cross_border, exclude, viewer, visible = case
    society = make.society("IT")
    creator = make.user(society=society)
    own_viewer = Viewer(
        society.id if viewer.society_id == OWNER else viewer.society_id,
        viewer.society_code,
        viewer.tracing_request_id,
    )
    with app.app_context(), db.transaction() as session:
        sighting = Sighting(
            society_id=society.id,
            created_by=creator.id,
            found_subject_id=uuid.uuid4(),
            status=RecordStatus.OPEN,
            legal_basis=LegalBasis.VITAL_INTEREST,
            no_cross_border=no_cross_border,
            exclude=exclude,
        )
        session.add(sighting)
        session.flush()
        dialect = session.get_bind().dialect.name
        on_behalf = own_viewer.tracing_request_id is not None
        in_sql = session.scalar(
            sa.select(sa.func.count())
            .select_from(Sighting)
            .where(Sighting.id == sighting.id, visible_condition(dialect, on_behalf=on_behalf)),
            viewer_parameters(dialect, own_viewer),
        )

        assert visible_to(sighting, own_viewer, seals.stored(sighting)) is visible
        assert bool(in_sql) is visible


@pytest.mark.parametrize("case", CASES)
def test_a_sighting_whose_seal_fails_is_seen_by_its_own_society_outside_requests_only(
    case: tuple[bool, list[str], Viewer, bool],
) -> None:
    no_cross_border, exclude, viewer, _ = case
    sighting = Sighting(society_id=OWNER, no_cross_border=no_cross_border, exclude=exclude)

    seen = visible_to(sighting, viewer, seals.most_restrictive(sighting))

    assert seen is (viewer.society_id == OWNER and viewer.tracing_request_id is None)
