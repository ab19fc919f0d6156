"""The privacy engine bound to the application: one crypto context per database session.

Every area that encrypts, decrypts or indexes personal data gets its ``Crypto`` from
``rfl.extensions.app_services().crypto(session)`` (or builds one the same way on the command line), so
data keys are stored in, and destroyed with, the transaction of the records they belong to.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from privacy import BlindIndexer, FieldVault, KeyCache, KeyProvider, RowSealer
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
        self.vault = FieldVault(provider, DatabaseKeyStore(session), cache=cache, clock=clock)
        self._sealers: dict[uuid.UUID, RowSealer] = {}

    def provider_ring(self, ring_id: str) -> None:
        """Make sure the key ring ``ring_id`` exists (rings of societies are made with the society)."""
        if not self.provider.has_ring(ring_id):
            self.provider.add_ring(ring_id)

    def indexer(self, society_id: uuid.UUID) -> tuple[BlindIndexer, int]:
        """The society's blind indexer and its active index-key version."""
        ring = str(society_id)
        return BlindIndexer(self.provider, ring), self.provider.active_index_key_version(ring)

    def sealer(self, society_id: uuid.UUID) -> RowSealer:
        """The society's row sealer (keyed MACs over rows' plaintext control columns)."""
        sealer = self._sealers.get(society_id)
        if sealer is None:
            sealer = self._sealers[society_id] = RowSealer(self.provider, str(society_id))
        return sealer
