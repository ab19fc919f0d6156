"""Society look-ups every area may use."""

from __future__ import annotations

import uuid

from flask import Flask

from rfl.db import db
from rfl.identity import societies_holding
from rfl.records.models import LegalBasis, RecordStatus, Sighting, TracingRequest
from tests.conftest import Factories


def test_the_societies_holding_records_are_those_owning_one_of_that_kind(app: Flask, make: Factories) -> None:
    italy, greece, germany = make.society("IT"), make.society("GR"), make.society("DE")
    make.society("SE")  # owns nothing
    creator = make.user(society=italy)
    with app.app_context(), db.transaction() as session:
        for society in (italy, greece, greece):
            session.add(
                Sighting(
                    society_id=society.id,
                    created_by=creator.id,
                    found_subject_id=uuid.uuid4(),
                    status=RecordStatus.OPEN,
                    legal_basis=LegalBasis.VITAL_INTEREST,
                )
            )
        session.add(
            TracingRequest(
                society_id=germany.id,
                created_by=creator.id,
                sought_subject_id=uuid.uuid4(),
                enquirer_subject_id=uuid.uuid4(),
                status=RecordStatus.OPEN,
                legal_basis=LegalBasis.VITAL_INTEREST,
            )
        )
        session.flush()

        assert societies_holding(session, Sighting.society_id) == sorted([italy.id, greece.id])
        assert societies_holding(session, TracingRequest.society_id) == [germany.id]
