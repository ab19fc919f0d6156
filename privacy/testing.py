"""Test helpers shipped with the library: an in-memory :class:`~privacy.KeyStore`.

It is also the reference for the semantics an application's database store must have.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from datetime import datetime

from privacy.keys import WrappedDek


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
