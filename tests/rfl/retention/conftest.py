"""A cross-border case to erase: Germany's request, Italy's sighting of the same man, a candidate."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from privacy import WrappedDek
from rfl.accounts.models import Role
from rfl.db import db
from rfl.matches.models import MatchCandidate
from tests.border import REQUEST, SIGHTING, Border, saved
from tests.conftest import Factories


@dataclass
class Case:
    border: Border
    de_admin: dict[str, str]
    it_admin: dict[str, str]
    request_id: str
    sighting_id: str


def candidates_of(app: Flask, record_id: str) -> list[MatchCandidate]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(MatchCandidate).where(
                    sa.or_(
                        MatchCandidate.tracing_request_id == uuid.UUID(record_id),
                        MatchCandidate.sighting_id == uuid.UUID(record_id),
                    )
                )
            )
        )


def new_case(client: FlaskClient, border: Border, make: Factories, **changes: Any) -> Case:
    request = copy.deepcopy(REQUEST)
    request.update(changes)
    created = saved(client, "/api/v1/tracing-requests", border.de_caseworker, request)
    sighting = saved(client, "/api/v1/sightings", border.it_caseworker, copy.deepcopy(SIGHTING))
    return Case(
        border,
        make.actor_headers(Role.ADMIN, border.germany),
        make.actor_headers(Role.ADMIN, border.italy),
        created["id"],
        sighting["id"],
    )


@pytest.fixture
def case(client: FlaskClient, border: Border, make: Factories) -> Case:
    return new_case(client, border, make)


class BackupKeyStore:
    """The key store of a restored backup: holds one data key as it was before the erasure, only read."""

    def __init__(self, key: WrappedDek) -> None:
        self._key = key

    def load(self, ring_id: str, subject_id: str, dek_version: int | None = None) -> WrappedDek | None:
        return self._key

    def store(self, record: WrappedDek, *, replaces: WrappedDek | None = None) -> bool:
        raise AssertionError("a backup is only read")

    def mark_destroyed(self, *args: object, **kwargs: object) -> list[WrappedDek]:
        raise AssertionError("a backup is only read")

    def list_by_kek_version(self, *args: object, **kwargs: object) -> list[WrappedDek]:
        return []
