"""Test helpers shipped with the library: an in-memory :class:`~privacy.KeyStore`.

It is also the reference for the semantics an application's database store must have.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from privacy.keys import KeyStore, WrappedDek


class InMemoryKeyStore:
    """A thread-safe :class:`~privacy.KeyStore` held in a dict (tests and benchmarks only)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, int], WrappedDek] = {}
        self._lock = threading.Lock()

    def store(self, record: WrappedDek, *, replaces: WrappedDek | None = None) -> bool:
        key = (record.ring_id, record.subject_id, record.dek_version)
        with self._lock:
            current = self._rows.get(key)
            if replaces is None:
                if current is not None:
                    return False
            elif current is None or current.destroyed or current != replaces:
                return False
            self._rows[key] = record
            return True

    def load(self, ring_id: str, subject_id: str, dek_version: int | None = None) -> WrappedDek | None:
        with self._lock:
            if dek_version is not None:
                return self._rows.get((ring_id, subject_id, dek_version))
            versions = [
                r for (ring, subj, _), r in self._rows.items() if ring == ring_id and subj == subject_id
            ]
            return max(versions, key=lambda r: r.dek_version, default=None)

    def mark_destroyed(
        self, ring_id: str, subject_id: str, at: datetime, *, dek_version: int | None = None
    ) -> Sequence[WrappedDek]:
        destroyed: list[WrappedDek] = []
        with self._lock:
            for key, row in list(self._rows.items()):
                if key[0] != ring_id or key[1] != subject_id or row.destroyed:
                    continue
                if dek_version is not None and key[2] != dek_version:
                    continue
                self._rows[key] = dataclasses.replace(row, wrapped=b"", destroyed_at=at)
                destroyed.append(row)
        return destroyed

    def list_by_kek_version(
        self,
        ring_id: str,
        kek_version: int,
        *,
        after: tuple[str, int] | None = None,
        limit: int = 1000,
    ) -> Sequence[WrappedDek]:
        with self._lock:
            rows = sorted(
                (
                    r
                    for r in self._rows.values()
                    if r.ring_id == ring_id and r.kek_version == kek_version and not r.destroyed
                ),
                key=lambda r: (r.subject_id, r.dek_version),
            )
        if after is not None:
            rows = [r for r in rows if (r.subject_id, r.dek_version) > after]
        return rows[:limit]

    def rows(self) -> list[WrappedDek]:
        """Every row, destroyed ones included (for assertions)."""
        with self._lock:
            return list(self._rows.values())


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(f"key store contract: {what}")


def check_key_store_contract(store: KeyStore, *, ring_id: str = "contract-ring") -> None:
    """Exercise ``store`` (which must hold nothing for ``ring_id``) and raise AssertionError where it
    departs from the :class:`~privacy.KeyStore` semantics the library relies on.

    The application runs it against its database implementation (in a rolled-back transaction).
    """
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    a1 = WrappedDek(ring_id, "a", 1, 1, b"\x01" * 60, t0)
    a2 = WrappedDek(ring_id, "a", 2, 1, b"\x02" * 60, t0)
    b1 = WrappedDek(ring_id, "b", 1, 1, b"\x03" * 60, t0)
    _expect(store.load(ring_id, "a") is None, "load of an unknown subject returns None")
    _expect(store.store(a1), "a first insert succeeds")
    _expect(not store.store(dataclasses.replace(a1, wrapped=b"\x09" * 60)), "a second insert is refused")
    _expect(store.load(ring_id, "a") == a1, "the first insert is kept")
    _expect(store.store(a2) and store.store(b1), "other versions and subjects insert")
    _expect(store.load(ring_id, "a") == a2, "load without a version returns the highest version")
    _expect(store.load(ring_id, "a", 1) == a1, "load with a version returns that version")

    a1_new = dataclasses.replace(a1, kek_version=2, wrapped=b"\x04" * 60)
    _expect(
        not store.store(a1_new, replaces=dataclasses.replace(a1, wrapped=b"\x00" * 60)), "a stale swap fails"
    )
    _expect(store.store(a1_new, replaces=a1), "a swap against the current row succeeds")
    _expect(store.load(ring_id, "a", 1) == a1_new, "the swap is visible")

    page1 = store.list_by_kek_version(ring_id, 1, limit=1)
    _expect([(r.subject_id, r.dek_version) for r in page1] == [("a", 2)], "listing is ordered and limited")
    page2 = store.list_by_kek_version(ring_id, 1, after=("a", 2), limit=10)
    _expect([(r.subject_id, r.dek_version) for r in page2] == [("b", 1)], "listing resumes after the cursor")
    _expect(list(store.list_by_kek_version(ring_id, 2)) == [a1_new], "listing filters by KEK version")

    gone = store.mark_destroyed(ring_id, "a", t0, dek_version=2)
    _expect([r.dek_version for r in gone] == [2], "destroying one version reports it")
    destroyed = store.load(ring_id, "a", 2)
    _expect(
        destroyed is not None and destroyed.destroyed and destroyed.wrapped == b"",
        "destroyed rows are erased",
    )
    _expect(
        not store.store(dataclasses.replace(a2, kek_version=2), replaces=a2),
        "a destroyed row cannot be swapped",
    )
    gone = store.mark_destroyed(ring_id, "a", t0)
    _expect([r.dek_version for r in gone] == [1], "destroying all reports only rows not yet destroyed")
    _expect(not store.list_by_kek_version(ring_id, 2), "destroyed rows are not listed")
    _expect(not store.mark_destroyed(ring_id, "a", t0), "destroying again reports nothing")
    _expect(store.load(ring_id, "b", 1) == b1, "other subjects are untouched")
