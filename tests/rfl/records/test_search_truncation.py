"""Truncation's false positives never reach a hit list or the matcher: with one-bit index values every
record shares a value with every query, and only the records that hold a query term come back."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from rfl.audit.models import AuditEvent
from rfl.crypto.planning import IndexPlanning
from rfl.db import db
from rfl.extensions import app_services
from rfl.matches.proposals import propose
from rfl.matches.store import current_matcher
from rfl.records.models import BlindIndexEntry
from rfl.settings import Settings
from tests.border import REQUEST, SIGHTING, Border, saved
from tests.conftest import make_settings, unaudited
from tests.rfl.records.conftest import sighting

ONE_BIT = IndexPlanning(name_token=4, name_skeleton=4, match_block=4)


@pytest.fixture
def settings(database_url: str, session_instance_dir: Path) -> Settings:
    return make_settings(database_url, session_instance_dir, index_planning=ONE_BIT)


def search(client: FlaskClient, headers: dict[str, str], q: str, request_id: str | None = None) -> Any:
    body: dict[str, Any] = {"q": q} | ({"tracing_request_id": request_id} if request_id else {})
    response = client.post("/api/v1/sightings/search", headers=headers, json=body)
    assert response.status_code == 200, response.json
    return response.json["items"]


def register(client: FlaskClient, headers: dict[str, str], given: str, family: str) -> str:
    """A sighting of someone who shares no name with the border's Mohammed Al-Hassan (his father's
    name is the default sighting's: dropped)."""
    body = sighting(given_name=given, family_name=family, father_name=None, alternate_names=None)
    return str(saved(client, "/api/v1/sightings", headers, body)["id"])


def distinct_values(app: Flask, index_name: str) -> int:
    with app.app_context():
        statement = sa.select(sa.func.count(sa.distinct(BlindIndexEntry.value))).where(
            BlindIndexEntry.index_name == index_name
        )
        return db.session.scalar(statement) or 0


def test_own_search_returns_only_records_holding_a_query_term(
    app: Flask, client: FlaskClient, border: Border
) -> None:
    rossi = register(client, border.it_caseworker, "Giuseppe", "Rossi")
    register(client, border.it_caseworker, "Oleksandr", "Kovalenko")
    register(client, border.it_caseworker, "Abdi", "Warsame")
    assert distinct_values(app, "name_token") <= 2  # every record shares a value with every query

    items = search(client, border.it_officer, "Rossi")

    assert [item["id"] for item in items] == [rossi]
    assert items[0]["name"] == "Giuseppe Rossi"


def test_cross_border_hits_are_the_records_holding_a_query_term_banded_by_real_names(
    client: FlaskClient, border: Border
) -> None:
    request_id = str(saved(client, "/api/v1/tracing-requests", border.de_officer, REQUEST)["id"])
    both = register(client, border.it_caseworker, "Giuseppe", "Rossi")
    family_only = register(client, border.it_caseworker, "Marco", "Rossi")
    register(client, border.it_caseworker, "Oleksandr", "Kovalenko")

    items = search(client, border.de_officer, "Giuseppe Rossi", request_id)

    assert {item["id"]: item["band"] for item in items} == {both: "strong", family_only: "possible"}


def test_the_matcher_scores_only_candidates_that_share_a_blocking_key(app: Flask, border: Border) -> None:
    client = app.test_client()
    request_id = saved(client, "/api/v1/tracing-requests", border.de_officer, REQUEST)["id"]
    saved(client, "/api/v1/sightings", border.it_caseworker, SIGHTING)
    for given, family in (("Oleksandr", "Kovalenko"), ("Abdi", "Warsame")):
        register(client, border.it_caseworker, given, family)

    with app.app_context(), db.transaction() as session:
        crypto = app_services(app).crypto(session)
        report = propose(
            session,
            crypto,
            current_matcher(session, crypto),
            "tracing_request",
            uuid.UUID(request_id),
            limits=app_services(app).settings.matching,
            audit=unaudited,
        )

    assert report.blocked == 3  # one-bit values: every sighting shares one with the request
    assert report.scored == 1  # only the true one shares a blocking key
    assert report.stored == 0  # proposed when the sighting was saved: nothing changes


def test_only_restricted_sightings_holding_a_query_term_are_audited_as_withheld(
    app: Flask, client: FlaskClient, border: Border
) -> None:
    """The owner's entry says which of its sightings a restriction kept from a search: never one that
    shared only a truncated value with the query."""
    request_id = str(saved(client, "/api/v1/tracing-requests", border.de_officer, REQUEST)["id"])
    withheld = saved(
        client,
        "/api/v1/sightings",
        border.it_caseworker,
        sighting({"no_cross_border": True}, given_name="Giuseppe", family_name="Rossi"),
    )["id"]
    saved(
        client,
        "/api/v1/sightings",
        border.it_caseworker,
        sighting(
            {"no_cross_border": True}, given_name="Oleksandr", family_name="Kovalenko", father_name=None
        ),
    )

    assert search(client, border.de_officer, "Giuseppe Rossi", request_id) == []

    with app.app_context():
        entry = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "sighting.restriction_applied")
        ).one()
    assert entry.object_ids == [withheld]
