"""The privacy engine's key store (``privacy.KeyStore``) on the application database."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy import Subject, WrappedDek
from rfl.crypto.models import DataKey
from rfl.db import dialect_insert, one_of


def _wrapped(row: DataKey) -> WrappedDek:
    return WrappedDek(
        ring_id=row.ring_id,
        subject_id=row.subject_id,
        dek_version=row.dek_version,
        kek_version=row.kek_version,
        wrapped=row.wrapped,
        created_at=row.created_at,
        destroyed_at=row.destroyed_at,
    )


class DatabaseKeyStore:
    """Each call runs in the given session, so key changes commit with the records they belong to."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._prefetched: dict[tuple[str, str, int], WrappedDek] = {}

    @contextmanager
    def prefetched(self, subjects: Iterable[Subject]) -> Iterator[None]:
        """Within the block, loading a key of ``subjects`` costs no query: every key (all versions) of
        them is read in one, as rows (no ORM object: a page of candidates needs hundreds)."""
        outer = self._prefetched
        self._prefetched = outer | self._load_all(subjects)
        try:
            yield
        finally:
            self._prefetched = outer

    def _load_all(self, subjects: Iterable[Subject]) -> dict[tuple[str, str, int], WrappedDek]:
        wanted = {(subject.ring_id, subject.subject_id) for subject in subjects}
        if not wanted:
            return {}
        columns = DataKey.__table__.c
        rows = self._session.execute(
            sa.select(*(getattr(columns, field.name) for field in dataclasses.fields(WrappedDek))).where(
                one_of(self._session, columns.ring_id, sorted({ring for ring, _ in wanted})),
                one_of(self._session, columns.subject_id, sorted({subject for _, subject in wanted})),
            )
        )
        keys = (WrappedDek(*row) for row in rows)
        return {
            (key.ring_id, key.subject_id, key.dek_version): key
            for key in keys
            if (key.ring_id, key.subject_id) in wanted
        }

    def _forget_prefetched(self, ring_id: str, subject_id: str) -> None:
        """A key this transaction changes is read from the database again."""
        for key in [key for key in self._prefetched if key[:2] == (ring_id, subject_id)]:
            del self._prefetched[key]

    def store(self, record: WrappedDek, *, replaces: WrappedDek | None = None) -> bool:
        if replaces is None:
            # Insert if absent, in one statement (every new record stores a key per person): a key
            # version already there, or stored by a concurrent transaction first, is left as it is.
            inserted = self._session.scalar(
                dialect_insert(self._session, DataKey)
                .values(
                    ring_id=record.ring_id,
                    subject_id=record.subject_id,
                    dek_version=record.dek_version,
                    kek_version=record.kek_version,
                    wrapped=record.wrapped,
                    created_at=record.created_at,
                    destroyed_at=record.destroyed_at,
                )
                .on_conflict_do_nothing(index_elements=["ring_id", "subject_id", "dek_version"])
                .returning(DataKey.dek_version)  # a row only if inserted (rowcount is -1 here on psycopg)
            )
            return inserted is not None

        # Compare-and-set: only if the row is still exactly what the caller read.
        self._forget_prefetched(replaces.ring_id, replaces.subject_id)
        result = self._session.execute(
            sa.update(DataKey)
            .where(
                DataKey.ring_id == replaces.ring_id,
                DataKey.subject_id == replaces.subject_id,
                DataKey.dek_version == replaces.dek_version,
                DataKey.kek_version == replaces.kek_version,
                DataKey.wrapped == replaces.wrapped,
                DataKey.destroyed_at.is_(None),
            )
            .values(kek_version=record.kek_version, wrapped=record.wrapped)
            .execution_options(synchronize_session="fetch")
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def load(self, ring_id: str, subject_id: str, dek_version: int | None = None) -> WrappedDek | None:
        if dek_version is not None:
            prefetched = self._prefetched.get((ring_id, subject_id, dek_version))
            if prefetched is not None:
                return prefetched
            row = self._row(ring_id, subject_id, dek_version)
        else:
            row = self._session.scalar(
                sa.select(DataKey)
                .where(DataKey.ring_id == ring_id, DataKey.subject_id == subject_id)
                .order_by(DataKey.dek_version.desc())
                .limit(1)
            )
        return None if row is None else _wrapped(row)

    def mark_destroyed(
        self, ring_id: str, subject_id: str, at: datetime, *, dek_version: int | None = None
    ) -> Sequence[WrappedDek]:
        statement = sa.select(DataKey).where(
            DataKey.ring_id == ring_id, DataKey.subject_id == subject_id, DataKey.destroyed_at.is_(None)
        )
        if dek_version is not None:
            statement = statement.where(DataKey.dek_version == dek_version)
        self._forget_prefetched(ring_id, subject_id)
        rows = list(self._session.scalars(statement.with_for_update()))
        before = [_wrapped(row) for row in rows]
        for row in rows:
            row.wrapped = b""
            row.destroyed_at = at
        self._session.flush()
        return before

    def list_by_kek_version(
        self, ring_id: str, kek_version: int, *, after: tuple[str, int] | None = None, limit: int = 1000
    ) -> Sequence[WrappedDek]:
        statement = sa.select(DataKey).where(
            DataKey.ring_id == ring_id, DataKey.kek_version == kek_version, DataKey.destroyed_at.is_(None)
        )
        if after is not None:
            subject_id, dek_version = after
            statement = statement.where(
                sa.or_(
                    DataKey.subject_id > subject_id,
                    sa.and_(DataKey.subject_id == subject_id, DataKey.dek_version > dek_version),
                )
            )
        rows = self._session.scalars(statement.order_by(DataKey.subject_id, DataKey.dek_version).limit(limit))
        return [_wrapped(row) for row in rows]

    def _row(self, ring_id: str, subject_id: str, dek_version: int) -> DataKey | None:
        return self._session.get(DataKey, (ring_id, subject_id, dek_version))
