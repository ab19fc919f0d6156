"""The blocking query's plan: proposals find their candidates through the blind-index lookup index."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from rfl.db import db
from rfl.extensions import app_services
from rfl.matches import worker
from rfl.matches.proposals import propose
from rfl.matches.store import current_matcher
from rfl.records.models import TracingRequest
from tests.conftest import Factories, unaudited
from tests.rfl.matches.conftest import seed_pairs

INDEX_SEARCH_BY_VALUE = "USING INDEX ix_blind_index_lookup (index_name=? AND index_version=? AND value=?)"


def test_blocking_searches_the_lookup_index_by_value(app: Flask, make: Factories) -> None:
    """SQLite once planned the blocking query (an OR of per-society value lists) as a walk over every
    blocking row, linear in the records (0.6 s per proposal at 25k rows); it must search by value."""
    # Two societies on each side: the query probes each one's values under its own key.
    seed_pairs(app, make, make.society("DE", country="DE"), make.society("IT"))
    seed_pairs(app, make, make.society("SE", country="SE"), make.society("GR", country="GR"))
    engine = db.engine_of(app)
    if engine.dialect.name != "sqlite":
        pytest.skip("the plan checked is SQLite's (the embedded default)")
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM blind_index_entries" in statement:  # the counts of values, then their rows
            statements.append((statement, parameters))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", capture)
    try:
        with app.app_context():
            report = worker.drain()
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", capture)

    assert report.processed == 24
    assert report.proposed >= 12
    assert statements
    with app.app_context(), db.transaction(read_only=True) as session:
        for statement, parameters in statements:
            plan = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            probes = [row[-1] for row in plan if "blind_index_entries" in row[-1]]
            assert probes
            assert all(INDEX_SEARCH_BY_VALUE in probe for probe in probes), probes


def test_records_still_under_an_older_index_key_are_blocked_during_a_rotation(
    app: Flask, make: Factories
) -> None:
    """`rfl keys rotate-index` rebuilds a society's index record by record: until a record is reached,
    its rows are under the older version, and proposals must still find it."""
    germany, italy = make.society("DE", country="DE"), make.society("IT")
    seed_pairs(app, make, germany, italy)
    with app.app_context():
        worker.drain()
        app_services(app).keys.rotate_index_key(str(italy.id))  # nothing reindexed yet
        request_id = db.session.scalars(sa.select(TracingRequest.id).limit(1)).one()
        with db.transaction() as session:
            crypto = app_services(app).crypto(session)
            crypto.index(italy.id)  # as the next Italian save does: the new version is planned
            report = propose(
                session,
                crypto,
                current_matcher(session, crypto),
                "tracing_request",
                request_id,
                limits=app_services(app).settings.matching,
                audit=unaudited,
            )

    assert report.blocked >= 1
    assert report.scored >= 1
