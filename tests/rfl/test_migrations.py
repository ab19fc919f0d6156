"""`upgrade head` yields exactly the models' schema, and every revision downgrades."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from rfl import migrate
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
