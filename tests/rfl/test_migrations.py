"""`upgrade head` yields exactly the models' schema, and every revision downgrades."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from privacy import BlindIndexer, LocalKeyProvider
from rfl import migrate
from rfl.crypto.planning import IndexPlanning, SocietyIndex
from rfl.db import make_engine
from rfl.models import Base


def schema_differences(database_url: str) -> list[object]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def table_names(database_url: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_head_matches_the_models_exactly(throwaway_database_url: str) -> None:
    migrate.upgrade(throwaway_database_url)

    assert schema_differences(throwaway_database_url) == []
    assert table_names(throwaway_database_url) == set(Base.metadata.tables)


def test_a_model_change_without_a_revision_is_detected(throwaway_database_url: str) -> None:
    migrate.upgrade(throwaway_database_url)
    extra = sa.Table("not_migrated", Base.metadata, sa.Column("id", sa.Integer, primary_key=True))
    try:
        assert schema_differences(throwaway_database_url) != []
    finally:
        Base.metadata.remove(extra)


def test_every_revision_downgrades_and_upgrades_again(throwaway_database_url: str) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(throwaway_database_url))
    revisions = list(reversed(list(script.walk_revisions())))  # oldest first
    assert revisions, "no migrations found"
    migrate.upgrade(throwaway_database_url)

    for revision in reversed(revisions):
        migrate.downgrade(throwaway_database_url, revision.down_revision or "base")
        assert migrate.current_revision(throwaway_database_url) == revision.down_revision

    assert table_names(throwaway_database_url) == set()
    migrate.upgrade(throwaway_database_url)
    assert schema_differences(throwaway_database_url) == []


def test_revision_files_are_date_prefixed_and_stand_alone() -> None:
    files = sorted((migrate.MIGRATIONS_DIR / "versions").glob("*.py"))

    assert files
    for path in files:
        assert path.name[:11].replace("_", "").isdigit(), path.name
        source = path.read_text()
        assert "from rfl" not in source
        assert "import rfl" not in source


def test_0009_fills_in_the_skeleton_that_needs_no_decryption_and_keeps_rows(
    throwaway_database_url: str,
) -> None:
    """Deceased sightings get their condition code; closed and disclosed records a closing date (the
    first allowed disclosure, else the last change). Other conditions wait for the backfill command."""
    migrate.upgrade(throwaway_database_url, "0008")
    ids = {name: uuid.uuid4() for name in ("society", "user", "alive", "dead", "open", "closed", "told")}
    engine = make_engine(throwaway_database_url)
    with engine.begin() as connection:
        _insert_0008_rows(connection, ids)
    engine.dispose()

    migrate.upgrade(throwaway_database_url, "0009")

    engine = make_engine(throwaway_database_url)
    with engine.connect() as connection:
        sightings = sa.table("sightings", sa.column("id", sa.Uuid), sa.column("condition_code", sa.String))
        requests = sa.table(
            "tracing_requests", sa.column("id", sa.Uuid), sa.column("closed_at", sa.DateTime(timezone=True))
        )
        conditions = dict(connection.execute(sa.select(sightings.c.id, sightings.c.condition_code)).all())
        closing = dict(connection.execute(sa.select(requests.c.id, requests.c.closed_at)).all())
    engine.dispose()
    assert conditions == {ids["alive"]: None, ids["dead"]: "deceased"}
    assert closing[ids["open"]] is None
    assert closing[ids["closed"]].date() == date(2026, 3, 5)  # its last change
    assert closing[ids["told"]].date() == date(2026, 4, 1)  # its first allowed disclosure
    # Rows that other tables refer to survive the way back as well (no table is recreated).
    migrate.downgrade(throwaway_database_url, "0008")
    assert migrate.current_revision(throwaway_database_url) == "0008"


def _insert(connection: sa.Connection, table: str, **values: Any) -> None:
    """Insert one row into ``table`` as it is at the current revision, column types from the values."""
    kinds: list[tuple[type, sa.types.TypeEngine[Any]]] = [
        (uuid.UUID, sa.Uuid()),
        (datetime, sa.DateTime(timezone=True)),
        (bool, sa.Boolean()),
        (int, sa.Integer()),
        (float, sa.Float()),
        (str, sa.String()),
        (bytes, sa.LargeBinary()),
        (list, sa.JSON()),
    ]
    columns = [
        sa.column(name, next(kind for python, kind in kinds if isinstance(value, python)))
        for name, value in values.items()
    ]
    connection.execute(sa.table(table, *columns).insert().values(**values))


def _insert_0008_rows(connection: sa.Connection, ids: dict[str, uuid.UUID]) -> None:
    """Rows as revision 0008 left them."""
    when = datetime(2026, 3, 5, tzinfo=UTC)
    _insert(
        connection,
        "societies",
        id=ids["society"],
        code="IT",
        type="national_society",
        name="IRC",
        created_at=when,
    )
    _insert(
        connection, "users", id=ids["user"], society_id=ids["society"], email="cw@example.org", name="N",
        role="caseworker", password_hash="x", active=True, version=1, created_at=when, updated_at=when,
    )  # fmt: skip
    record = {
        "society_id": ids["society"], "created_by": ids["user"], "legal_basis": "vital_interest",
        "flagged_minor": False, "minor": False, "version": 1, "match_version": 1, "created_at": when,
        "updated_at": when,
    }  # fmt: skip
    for name, deceased in (("alive", False), ("dead", True)):
        _insert(
            connection, "sightings", **record, id=ids[name], status="open", found_subject_id=uuid.uuid4(),
            deceased=deceased, no_cross_border=False, exclude=[],
        )  # fmt: skip
    for name, status in (("open", "open"), ("closed", "closed"), ("told", "disclosed")):
        _insert(
            connection, "tracing_requests", **record, id=ids[name], status=status,
            sought_subject_id=uuid.uuid4(), enquirer_subject_id=uuid.uuid4(),
        )  # fmt: skip
    candidate = uuid.uuid4()
    pair = {
        "tracing_request_id": ids["told"], "sighting_id": ids["alive"], "request_society_id": ids["society"],
        "sighting_society_id": ids["society"],
    }  # fmt: skip
    _insert(
        connection, "match_candidates", id=candidate, **pair, request_match_version=1,
        sighting_match_version=1, match_probability=0.9, match_weight=5.0, model_version="m",
        explanation=[], status="confirmed", subject_id=uuid.uuid4(), version=1, created_at=when,
        updated_at=when,
    )  # fmt: skip
    _insert(
        connection, "disclosures", id=uuid.uuid4(), match_candidate_id=candidate, **pair, categories=[],
        outcome="allowed", reasons=[], officer_user_id=ids["user"],
        decided_at=datetime(2026, 4, 1, 9, tzinfo=UTC),
    )  # fmt: skip


def test_0010_makes_emails_unique_per_society_and_keeps_every_row_that_refers_to_users(
    throwaway_database_url: str,
) -> None:
    """SQLite rebuilds ``users`` to change its constraint: tokens (ON DELETE CASCADE), records and
    disclosures referring to its rows survive the way there and back, and records start unsealed."""
    migrate.upgrade(throwaway_database_url, "0008")
    ids = {name: uuid.uuid4() for name in ("society", "user", "alive", "dead", "open", "closed", "told")}
    other_society, twin, token = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    when = datetime(2026, 3, 5, tzinfo=UTC)
    engine = make_engine(throwaway_database_url)
    with engine.begin() as connection:
        _insert_0008_rows(connection, ids)
        _insert(
            connection, "api_tokens", id=token, user_id=ids["user"], token_hash=b"h", created_at=when,
            expires_at=when,
        )  # fmt: skip
    migrate.upgrade(throwaway_database_url, "0009")

    migrate.upgrade(throwaway_database_url)

    def counts() -> tuple[int | None, ...]:
        with engine.connect() as connection:
            return tuple(
                connection.scalar(sa.text(f"SELECT count(*) FROM {table}"))  # noqa: S608 (constant names)
                for table in ("users", "api_tokens", "sightings", "tracing_requests", "disclosures")
            )

    assert counts() == (1, 1, 2, 3, 1)
    with engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT count(*) FROM sightings WHERE seal IS NULL")) == 2
    with engine.begin() as connection:  # another society may now have a user with the same email
        _insert(
            connection, "societies", id=other_society, code="DE", type="national_society", name="GRC",
            created_at=when,
        )  # fmt: skip
        _insert(
            connection, "users", id=twin, society_id=other_society, email="cw@example.org", name="M",
            role="caseworker", password_hash="x", active=True, version=1, created_at=when, updated_at=when,
        )  # fmt: skip
    with engine.begin() as connection:
        users = sa.table("users", sa.column("society_id", sa.Uuid()))
        connection.execute(sa.delete(users).where(users.c.society_id == other_society))
    migrate.downgrade(throwaway_database_url, "0009")
    assert counts() == (1, 1, 2, 3, 1)
    engine.dispose()


def test_0013_keeps_login_failures_as_hits(throwaway_database_url: str) -> None:
    """A failure still in its window stays a hit of its email and of its address (no lock is lifted)."""
    migrate.upgrade(throwaway_database_url, "0012")
    engine = make_engine(throwaway_database_url)
    with engine.begin() as connection:
        _insert(
            connection, "login_failures", id=uuid.uuid4(), email_key=b"e" * 32, client_key=b"c" * 32,
            failed_at=datetime(2026, 3, 5, tzinfo=UTC),
        )  # fmt: skip
    engine.dispose()

    migrate.upgrade(throwaway_database_url, "0013")

    engine = make_engine(throwaway_database_url)
    with engine.connect() as connection:
        hits = sa.table("throttle_hits", sa.column("bucket", sa.String), sa.column("key", sa.LargeBinary))
        stored = sorted(
            (row.bucket, row.key) for row in connection.execute(sa.select(hits.c.bucket, hits.c.key))
        )
    engine.dispose()
    assert stored == [("login_client", b"c" * 32), ("login_email", b"e" * 32)]
    migrate.downgrade(throwaway_database_url, "0012")
    assert migrate.current_revision(throwaway_database_url) == "0012"


def test_0014_plans_each_indexed_version_and_shortens_its_values_to_what_the_app_computes(
    throwaway_database_url: str,
) -> None:
    """Values stored at 18 bits become the values the planned index computes (a prefix: no key needed),
    so records indexed before the upgrade are found by searches made after it."""
    provider = LocalKeyProvider.in_memory(["ring"])
    indexer = BlindIndexer(provider, "ring")
    old = SocietyIndex(indexer, 1, dict.fromkeys(IndexPlanning.index_names(), 18))
    new = SocietyIndex(indexer, 1, {name: IndexPlanning().bits(name) for name in IndexPlanning.index_names()})
    terms = {"name_token": ["rossi", "giuseppe"], "name_skeleton": ["rs", "jsp"], "match_block": ["n|rs"]}
    migrate.upgrade(throwaway_database_url, "0013")
    society = uuid.uuid4()
    engine = make_engine(throwaway_database_url)
    with engine.begin() as connection:
        when = datetime(2026, 3, 5, tzinfo=UTC)
        _insert(
            connection, "societies", id=society, code="IT", type="national_society", name="I", created_at=when
        )
        for index_name, index_terms in terms.items():
            for value in old.values(index_name, index_terms):
                _insert(
                    connection, "blind_index_entries", id=uuid.uuid4(), record_type="sighting",
                    record_id=uuid.uuid4(), society_id=society, subject_id=uuid.uuid4(),
                    index_name=index_name, index_version=1, key_version=1, value=value.value,
                )  # fmt: skip

    migrate.upgrade(throwaway_database_url, "0014")

    with engine.connect() as connection:
        entries = sa.table("blind_index_entries", sa.column("index_name", sa.String), sa.column("value"))
        stored = {(row.index_name, row.value) for row in connection.execute(sa.select(entries))}
        plans = sa.table("blind_index_plans", sa.column("society_id", sa.Uuid), sa.column("index_name"))
        planned = set(connection.execute(sa.select(plans.c.society_id, plans.c.index_name)).all())
    engine.dispose()
    assert stored == {
        (index_name, value.value)
        for index_name, index_terms in terms.items()
        for value in new.values(index_name, index_terms)
    }
    assert planned == {(society, name) for name in IndexPlanning.index_names()}
