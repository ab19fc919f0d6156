"""The application's key material: the privacy engine's key provider and the audit signing key.

Each society has its own key ring (ring id = the society's id), created with the society. Several
processes serve the API; a ring added by another process (``rfl societies create``) is picked up by
reloading the key file when an unknown ring is asked for.
"""

from __future__ import annotations

import threading
import time
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
    """A ``privacy.KeyProvider`` over the local key file that follows changes other processes make.

    Several processes serve the API while the CLI adds rings (new societies), rotates KEKs and retires
    old versions. The file is reloaded whenever it changed (checked at most every ``check_interval``
    seconds), and at once for an unknown ring, so no process keeps wrapping under a retired KEK for
    longer than that interval; retire a version only after it has passed.
    """

    def __init__(self, path: Path, *, check_interval: float = 1.0) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._check_interval = check_interval
        self._provider = load_key_file(path)
        self._loaded_version = self._file_version()
        self._checked_at = time.monotonic()

    def _file_version(self) -> tuple[int, int]:
        stat = self._path.stat()
        return stat.st_mtime_ns, stat.st_size

    def _reload(self) -> LocalKeyProvider:
        with self._lock:
            self._provider = load_key_file(self._path)
            self._loaded_version = self._file_version()
            self._checked_at = time.monotonic()
            return self._provider

    def _current(self, ring_id: str) -> LocalKeyProvider:
        if ring_id not in self._provider.ring_ids:
            return self._reload()
        if time.monotonic() - self._checked_at >= self._check_interval:
            self._checked_at = time.monotonic()
            if self._file_version() != self._loaded_version:
                return self._reload()
        return self._provider

    def _with_reload(self, ring_id: str, call: Callable[[LocalKeyProvider], T]) -> T:
        return call(self._current(ring_id))

    @property
    def ring_ids(self) -> tuple[str, ...]:
        return self._provider.ring_ids

    def has_ring(self, ring_id: str) -> bool:
        return self._with_reload(ring_id, lambda provider: ring_id in provider.ring_ids)

    def add_ring(self, ring_id: str) -> None:
        provider = self._reload()
        if ring_id not in provider.ring_ids:
            provider.add_ring(ring_id)
            self._loaded_version = self._file_version()

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
        version = self._reload().rotate_kek(ring_id)
        self._loaded_version = self._file_version()
        return version


def ensure_key_files(key_file: Path, signing_key_file: Path, origin: str) -> None:
    """Create the local key file and the audit signing key on a development instance's first run."""
    if not key_file.exists():
        create_key_file(key_file)
    if not signing_key_file.exists():
        create_signing_key_file(signing_key_file, origin)


def load_signer(signing_key_file: Path) -> CheckpointSigner:
    return load_signing_key_file(signing_key_file)
