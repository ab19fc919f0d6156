"""The in-memory key store meets the key-store contract, and the contract catches broken stores."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

import pytest

from privacy import KeyStore, WrappedDek
from privacy.testing import InMemoryKeyStore, check_key_store_contract


def test_in_memory_store_meets_the_contract() -> None:
    store: KeyStore = InMemoryKeyStore()
    check_key_store_contract(store)


class OverwritingStore(InMemoryKeyStore):
    """Ignores compare-and-set: would let a rewrap resurrect a shredded key."""

    def store(self, record: WrappedDek, *, replaces: WrappedDek | None = None) -> bool:
        return super().store(record) or super().store(
            record, replaces=self.load(record.ring_id, record.subject_id, record.dek_version)
        )


class ForgetfulStore(InMemoryKeyStore):
    """Marks rows destroyed but keeps the wrapped bytes."""

    def mark_destroyed(
        self, ring_id: str, subject_id: str, at: datetime, *, dek_version: int | None = None
    ) -> Sequence[WrappedDek]:
        rows = super().mark_destroyed(ring_id, subject_id, at, dek_version=dek_version)
        for row in rows:
            self._rows[(row.ring_id, row.subject_id, row.dek_version)] = dataclasses.replace(
                row, destroyed_at=at
            )
        return rows


class UnorderedStore(InMemoryKeyStore):
    def list_by_kek_version(
        self, ring_id: str, kek_version: int, *, after: tuple[str, int] | None = None, limit: int = 1000
    ) -> Sequence[WrappedDek]:
        return list(reversed(super().list_by_kek_version(ring_id, kek_version, after=after, limit=1000)))[
            :limit
        ]


@pytest.mark.parametrize("broken", [OverwritingStore, ForgetfulStore, UnorderedStore])
def test_the_contract_catches_broken_stores(broken: type[InMemoryKeyStore]) -> None:
    with pytest.raises(AssertionError, match="key store contract"):
        check_key_store_contract(broken())
