"""The application's key material: the privacy engine's key provider and the audit signing key.

Each society has its own key ring (ring id = the society's id), created with the society. Several
processes serve the API; a ring added by another process (``rfl societies create``) is picked up by
reloading the key file when an unknown ring is asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from privacy import (
    CheckpointSigner,
    KekState,
    LocalKeyProvider,
    create_key_file,
    create_signing_key_file,
    load_key_file,
    load_signing_key_file,
)

T = TypeVar("T")


class ReloadingKeyProvider:
    """A ``privacy.KeyProvider`` over the local key file that reloads it once for an unknown ring."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._provider = load_key_file(path)

    def _with_reload(self, ring_id: str, call: Callable[[LocalKeyProvider], T]) -> T:
        if ring_id not in self._provider.ring_ids:
            with self._lock:
                self._provider = load_key_file(self._path)
        return call(self._provider)

    def has_ring(self, ring_id: str) -> bool:
        return self._with_reload(ring_id, lambda provider: ring_id in provider.ring_ids)

    def add_ring(self, ring_id: str) -> None:
        with self._lock:
            self._provider = load_key_file(self._path)
            if ring_id not in self._provider.ring_ids:
                self._provider.add_ring(ring_id)

    def active_kek_version(self, ring_id: str) -> int:
        return self._with_reload(ring_id, lambda p: p.active_kek_version(ring_id))

    def kek_versions(self, ring_id: str) -> Mapping[int, KekState]:
        return self._with_reload(ring_id, lambda p: p.kek_versions(ring_id))

    def wrap_dek(self, ring_id: str, dek: bytes, aad: bytes) -> tuple[int, bytes]:
        return self._with_reload(ring_id, lambda p: p.wrap_dek(ring_id, dek, aad))

    def unwrap_dek(self, ring_id: str, kek_version: int, wrapped: bytes, aad: bytes) -> bytes:
        return self._with_reload(ring_id, lambda p: p.unwrap_dek(ring_id, kek_version, wrapped, aad))

    def retire_kek(self, ring_id: str, kek_version: int) -> None:
        self._with_reload(ring_id, lambda p: p.retire_kek(ring_id, kek_version))

    def active_index_key_version(self, ring_id: str) -> int:
        return self._with_reload(ring_id, lambda p: p.active_index_key_version(ring_id))

    def index_key(self, ring_id: str, key_version: int) -> bytes:
        return self._with_reload(ring_id, lambda p: p.index_key(ring_id, key_version))

    def rotate_kek(self, ring_id: str) -> int:
        with self._lock:
            self._provider = load_key_file(self._path)
            return self._provider.rotate_kek(ring_id)


def ensure_key_files(key_file: Path, signing_key_file: Path, origin: str) -> None:
    """Create the local key file and the audit signing key on a development instance's first run."""
    if not key_file.exists():
        create_key_file(key_file)
    if not signing_key_file.exists():
        create_signing_key_file(signing_key_file, origin)


def load_signer(signing_key_file: Path) -> CheckpointSigner:
    return load_signing_key_file(signing_key_file)
