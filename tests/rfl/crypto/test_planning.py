"""Blind-index plans: made from the installation's planning at a version's first use, then fixed."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from rfl.crypto import Crypto
from rfl.crypto.models import BlindIndexPlan
from rfl.crypto.planning import IndexPlanning
from rfl.db import db
from rfl.extensions import app_services
from tests.conftest import Factories

TINY = IndexPlanning(name_token=4, name_skeleton=4, match_block=4)  # one bit each


def crypto_planned(app: Flask, planning: IndexPlanning) -> Crypto:
    services = app_services(app)
    return Crypto(services.keys, services.key_cache, db.session, services.clock, planning=planning)


def stored_plans(society_id: object) -> dict[str, tuple[int, int]]:
    rows = db.session.scalars(sa.select(BlindIndexPlan).where(BlindIndexPlan.society_id == society_id))
    return {row.index_name: (row.expected_terms, row.bits) for row in rows}


def test_a_version_indexes_nothing_until_its_first_use_stores_the_plan(app: Flask, make: Factories) -> None:
    society = make.society("IT")
    with app.app_context(), db.transaction():
        crypto = app_services(app).crypto(db.session)
        assert crypto.indexes(society.id) == []

        index = crypto.index(society.id)

        assert dict(index.bits) == {"name_token": 13, "name_skeleton": 10, "match_block": 18}
        assert stored_plans(society.id) == {
            "name_token": (20_000, 13),
            "name_skeleton": (4_000, 10),
            "match_block": (1_000_000, 18),
        }
        assert [(i.key_version, i.bits) for i in crypto.indexes(society.id)] == [(1, index.bits)]


def test_the_settings_plan_a_new_version_and_never_change_a_stored_one(app: Flask, make: Factories) -> None:
    planned_small, planned_default = make.society("IT"), make.society("GR", country="GR")
    with app.app_context(), db.transaction():
        crypto_planned(app, TINY).index(planned_small.id)
        app_services(app).crypto(db.session).index(planned_default.id)

        later = crypto_planned(app, TINY)

        assert dict(later.index(planned_small.id).bits) == dict.fromkeys(IndexPlanning.index_names(), 1)
        assert later.index(planned_default.id).bits["name_token"] == 13  # made before: kept


def test_two_first_uses_at_once_end_with_the_plan_stored_first(app: Flask, make: Factories) -> None:
    """Both contexts saw no plan; the second's insert does nothing and it reads the first one's plan."""
    society = make.society("IT")
    with app.app_context(), db.transaction():
        first, second = crypto_planned(app, IndexPlanning()), crypto_planned(app, TINY)
        assert first.indexes(society.id) == second.indexes(society.id) == []

        made = first.index(society.id)
        raced = second.index(society.id)

        assert raced.bits == made.bits
        assert stored_plans(society.id)["name_token"] == (20_000, 13)


def test_a_plan_read_from_the_table_is_kept_by_the_process_and_one_made_now_is_not(
    app: Flask, make: Factories
) -> None:
    """Every save indexes under its society's plan; a stored plan never changes, so the process reads
    it once. A plan this session stored may still roll back: it is not kept."""
    society = make.society("IT")
    services = app_services(app)
    read: list[str] = []

    def capture(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "FROM blind_index_plans" in statement:
            read.append(statement)

    with app.app_context(), db.transaction():
        made = services.crypto(db.session).index(society.id)
        assert (society.id, made.key_version) not in services.settled_plans
        services.crypto(db.session).index(society.id)  # another session reads it from the table
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", capture)
        try:
            again = services.crypto(db.session).index(society.id)
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", capture)

    assert services.settled_plans[(society.id, made.key_version)] == dict(made.bits)
    assert read == []
    assert dict(again.bits) == dict(made.bits)
