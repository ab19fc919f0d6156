"""The privacy engine bound to the application: one crypto context per database session.

Every area that encrypts, decrypts or indexes personal data gets its ``Crypto`` from
``rfl.extensions.app_services().crypto(session)`` (or builds one the same way on the command line), so
data keys are stored in, and destroyed with, the transaction of the records they belong to.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from privacy import BlindIndexer, FieldVault, KeyCache, KeyConfigurationError, KeyProvider, RowSealer, Subject
from rfl.crypto.keystore import DatabaseKeyStore


class KeyRings(KeyProvider, Protocol):
    """The key provider as the application uses it: rings can also be looked for and added."""

    def has_ring(self, ring_id: str) -> bool: ...

    def add_ring(self, ring_id: str) -> None: ...


class Crypto:
    """A field vault over this session's key store, and the blind indexers and row sealers of each
    society's ring."""

    def __init__(
        self, provider: KeyRings, cache: KeyCache, session: Session, clock: Callable[[], datetime]
    ) -> None:
        self.provider = provider
        self._store = DatabaseKeyStore(session)
        self.vault = FieldVault(provider, self._store, cache=cache, clock=clock)
        self._sealers: dict[uuid.UUID, RowSealer] = {}

    def provider_ring(self, ring_id: str) -> None:
        """Make sure the key ring ``ring_id`` exists (rings of societies are made with the society)."""
        if not self.provider.has_ring(ring_id):
            self.provider.add_ring(ring_id)

    def indexer(self, society_id: uuid.UUID) -> tuple[BlindIndexer, int]:
        """The society's blind indexer and its active index-key version."""
        ring = str(society_id)
        return BlindIndexer(self.provider, ring), self.provider.active_index_key_version(ring)

    def index_key_versions(self, society_id: uuid.UUID) -> list[int]:
        """Every index-key version of the society's ring (the active one last): what a search must
        query, read from the key ring instead of from the index."""
        ring = str(society_id)
        versions = []
        for version in range(1, self.provider.active_index_key_version(ring) + 1):
            try:
                self.provider.index_key(ring, version)
            except KeyConfigurationError:  # a version the ring no longer has indexes nothing
                continue
            versions.append(version)
        return versions

    def prefetch(self, subjects: Iterable[Subject]) -> Sequence[object]:
        """Load the data keys of ``subjects`` in one query, so decrypting them costs no query per person.

        Keep the returned value while decrypting: the session holds the loaded rows only as long as
        something refers to them.
        """
        return self._store.load_all(subjects)

    def sealer(self, society_id: uuid.UUID) -> RowSealer:
        """The society's row sealer (keyed MACs over rows' plaintext control columns)."""
        sealer = self._sealers.get(society_id)
        if sealer is None:
            sealer = self._sealers[society_id] = RowSealer(self.provider, str(society_id))
        return sealer
