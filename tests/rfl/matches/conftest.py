"""Records of people on both sides of a border, saved through the services, for the match tests."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask import Flask

from rfl.accounts.models import Role, Society
from rfl.accounts.services import actor_of
from rfl.db import db
from rfl.extensions import app_services
from rfl.records import services as records
from rfl.records.schemas import SightingInputSchema, TracingRequestInputSchema
from tests.border import REQUEST, SIGHTING
from tests.conftest import Factories, unaudited

PEOPLE = [
    ("Mohammed", "Al-Hassan", "1990", "Yusuf"),
    ("Ahmad", "Karimi", "1985", "Nabi"),
    ("Oleksandr", "Kovalenko", "1979", "Petro"),
    ("Fatima", "Nasser", "2001", "Omar"),
    ("Abdi", "Warsame", "1995", "Hassan"),
    ("Yonas", "Berhe", "1988", "Kidane"),
]


def seed_pairs(app: Flask, make: Factories, requesting: Society, registering: Society) -> None:
    """One tracing request and one sighting (spelled another way) for each person in PEOPLE."""
    asker = actor_of(make.user(Role.CASEWORKER, society=requesting))
    registrar = actor_of(make.user(Role.CASEWORKER, society=registering))
    with app.app_context(), db.transaction() as session:
        crypto = app_services(app).crypto(session)
        for given, family, born, father in PEOPLE:
            request = copy.deepcopy(REQUEST)
            request["sought_person"] |= {
                "given_name": given,
                "family_name": family,
                "birth_date": born,
                "father_name": father,
            }
            sighting: dict[str, Any] = copy.deepcopy(SIGHTING)
            sighting["person"] = {
                "full_name": f"{family} {given}",
                "birth_date": born,
                "father_name": father,
                "sex": "M",
            }
            records.create_record(
                session,
                crypto,
                asker,
                records.TRACING_REQUESTS,
                TracingRequestInputSchema().load(request),
                now=make.clock.now,
                audit=unaudited,
            )
            records.create_record(
                session,
                crypto,
                registrar,
                records.SIGHTINGS,
                SightingInputSchema().load(sighting),
                now=make.clock.now,
                audit=unaudited,
            )


@pytest.fixture
def namesakes(app: Flask, make: Factories) -> Flask:
    """Three tracing requests and three sightings, all alike, for each person."""
    germany, italy = make.society("DE", country="DE"), make.society("IT")
    for _ in range(3):
        seed_pairs(app, make, germany, italy)
    return app
