"""The privacy engine bound to the application: one crypto context per database session.

Every area that encrypts, decrypts or indexes personal data gets its ``Crypto`` from
``rfl.extensions.app_services().crypto(session)`` (or builds one the same way on the command line), so
data keys are stored in, and destroyed with, the transaction of the records they belong to.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy import BlindIndexer, FieldVault, KeyCache, KeyConfigurationError, KeyProvider, RowSealer, Subject
from rfl.crypto.keystore import DatabaseKeyStore
from rfl.crypto.models import BlindIndexPlan
from rfl.crypto.planning import INDEX_VERSION, IndexPlanning, SocietyIndex
from rfl.db import dialect_insert

# A society's index plans by index-key version: index name to bits.
Plans = dict[uuid.UUID, dict[int, dict[str, int]]]
# Plans this process has read committed, by society and index-key version: a plan never changes once
# stored, so every save that indexes under it need not read it again (one statement a save).
SettledPlans = dict[tuple[uuid.UUID, int], dict[str, int]]


class KeyRings(KeyProvider, Protocol):
    """The key provider as the application uses it: rings can also be looked for and added."""

    def has_ring(self, ring_id: str) -> bool: ...

    def add_ring(self, ring_id: str) -> None: ...


class Crypto:
    """A field vault over this session's key store, and the blind indexers and row sealers of each
    society's ring."""

    def __init__(
        self,
        provider: KeyRings,
        cache: KeyCache,
        session: Session,
        clock: Callable[[], datetime],
        *,
        planning: IndexPlanning | None = None,
        settled: SettledPlans | None = None,
    ) -> None:
        self.provider = provider
        self._session = session
        self._store = DatabaseKeyStore(session)
        self.vault = FieldVault(provider, self._store, cache=cache, clock=clock)
        self._sealers: dict[uuid.UUID, RowSealer] = {}
        self._planning = planning or IndexPlanning()
        self._plans: Plans | None = None
        self._settled: SettledPlans = {} if settled is None else settled
        self._made: set[tuple[uuid.UUID, int]] = set()  # plans stored in this session, maybe not committed

    def provider_ring(self, ring_id: str) -> None:
        """Make sure the key ring ``ring_id`` exists (rings of societies are made with the society)."""
        if not self.provider.has_ring(ring_id):
            self.provider.add_ring(ring_id)

    def index(self, society_id: uuid.UUID) -> SocietyIndex:
        """The society's blind indexes under its active index-key version, to write values with: the
        version's plan is made now if this is its first use (from the installation's index planning)."""
        ring = str(society_id)
        key_version = self.provider.active_index_key_version(ring)
        return SocietyIndex(
            BlindIndexer(self.provider, ring), key_version, self._plan(society_id, key_version)
        )

    def _plan(self, society_id: uuid.UUID, key_version: int) -> dict[str, int]:
        settled = self._settled.get((society_id, key_version))
        if settled is not None:
            return settled
        bits = self._known_plans().get(society_id, {}).get(key_version)
        if bits is None:
            return self._make_plan(society_id, key_version)
        if (society_id, key_version) not in self._made:  # read as committed: it stays so
            self._settled[(society_id, key_version)] = bits
        return bits

    def indexes(self, society_id: uuid.UUID) -> list[SocietyIndex]:
        """Every index-key version of the society that indexes something (the active one last): what a
        search must query, from the plans and the key ring (nothing scans the index to find them)."""
        ring = str(society_id)
        indexer = BlindIndexer(self.provider, ring)
        found = []
        for key_version, bits in sorted(self._known_plans().get(society_id, {}).items()):
            try:
                self.provider.index_key(ring, key_version)
            except KeyConfigurationError:  # a version the ring no longer has indexes nothing
                continue
            found.append(SocietyIndex(indexer, key_version, bits))
        return found

    def _known_plans(self) -> Plans:
        """Every society's plans, read once per session (a few rows per society)."""
        if self._plans is None:
            plans: Plans = {}
            statement = sa.select(BlindIndexPlan).where(BlindIndexPlan.index_version == INDEX_VERSION)
            for plan in self._session.scalars(statement):
                plans.setdefault(plan.society_id, {}).setdefault(plan.key_version, {})[plan.index_name] = (
                    plan.bits
                )
            self._plans = plans
        return self._plans

    def _make_plan(self, society_id: uuid.UUID, key_version: int) -> dict[str, int]:
        """Store the plan of a new index-key version; a concurrent first use stores the same rows, and
        whichever commits first wins (both then read it back)."""
        rows = [
            {
                "id": uuid.uuid4(),
                "society_id": society_id,
                "key_version": key_version,
                "index_name": name,
                "index_version": INDEX_VERSION,
                "expected_terms": self._planning.expected_terms(name),
                "bits": self._planning.bits(name),
            }
            for name in IndexPlanning.index_names()
        ]
        self._session.execute(
            dialect_insert(self._session, BlindIndexPlan).on_conflict_do_nothing(
                index_elements=["society_id", "key_version", "index_name", "index_version"]
            ),
            rows,
        )
        stored = self._session.execute(
            sa.select(BlindIndexPlan.index_name, BlindIndexPlan.bits).where(
                BlindIndexPlan.society_id == society_id,
                BlindIndexPlan.key_version == key_version,
                BlindIndexPlan.index_version == INDEX_VERSION,
            )
        )
        bits = {row.index_name: row.bits for row in stored}
        self._known_plans().setdefault(society_id, {})[key_version] = bits
        self._made.add((society_id, key_version))
        return bits

    def prefetched(self, subjects: Iterable[Subject]) -> AbstractContextManager[None]:
        """Within the block, decrypting fields of ``subjects`` costs no query per person: their data
        keys are read in one."""
        return self._store.prefetched(subjects)

    def sealer(self, society_id: uuid.UUID) -> RowSealer:
        """The society's row sealer (keyed MACs over rows' plaintext control columns)."""
        sealer = self._sealers.get(society_id)
        if sealer is None:
            sealer = self._sealers[society_id] = RowSealer(self.provider, str(society_id))
        return sealer
