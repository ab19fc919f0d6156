"""The application's key material: the privacy engine's key provider and the audit signing key.

Each society has its own key ring (ring id = the society's id), created with the society. Several
processes serve the API; a ring added by another process (``rfl societies create``) is picked up by
reloading the key file when an unknown ring is asked for.
"""

from __future__ import annotations

import contextlib
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

# How often (seconds) a process looks whether the key file changed. Every process of an installation
# uses the same interval, so one that changes the file (``rfl keys rotate``) knows how long to wait
# until all others wrap under the new KEK.
KEY_FILE_CHECK_INTERVAL = 1.0


class ReloadingKeyProvider:
    """A ``privacy.KeyProvider`` over the local key file that follows changes other processes make.

    Several processes serve the API while the CLI adds rings (new societies), rotates KEKs and retires
    old versions. The file is reloaded whenever it changed (checked at most every ``check_interval``
    seconds), and at once for an unknown ring, so no process keeps wrapping under an old KEK for
    longer than that interval after a rotation. Reads take no lock: the file is only ever replaced
    whole, and a reload reads the content and its version stamp from one open file, so a process
    never sees a torn file nor mistakes an old content for a newer version. Changes go through
    ``LocalKeyProvider``, which rereads and replaces the file under the key file's exclusive lock.
    """

    def __init__(
        self,
        path: Path,
        *,
        check_interval: float = KEY_FILE_CHECK_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._check_interval = check_interval
        self._monotonic = monotonic
        self._provider = load_key_file(path)
        self._checked_at = monotonic()

    @property
    def check_interval(self) -> float:
        """At most this long after the file changed, every process of the installation has reloaded it."""
        return self._check_interval

    def _reload(self) -> LocalKeyProvider:
        with self._lock:
            self._provider.reload()
            self._checked_at = self._monotonic()
            return self._provider

    def _current(self, ring_id: str) -> LocalKeyProvider:
        if not self._provider.has_ring(ring_id):
            return self._reload()
        if self._monotonic() - self._checked_at >= self._check_interval:
            self._checked_at = self._monotonic()
            if self._provider.changed_on_disk():
                return self._reload()
        return self._provider

    def _with_reload(self, ring_id: str, call: Callable[[LocalKeyProvider], T]) -> T:
        return call(self._current(ring_id))

    @property
    def ring_ids(self) -> tuple[str, ...]:
        return self._provider.ring_ids

    def has_ring(self, ring_id: str) -> bool:
        return self._with_reload(ring_id, lambda provider: provider.has_ring(ring_id))

    def add_ring(self, ring_id: str) -> None:
        """Add a ring unless the file has it already (the change rereads the file under its lock)."""
        if self._reload().has_ring(ring_id):
            return
        self._provider.add_ring(ring_id)

    def rotate_kek(self, ring_id: str) -> int:
        return self._provider.rotate_kek(ring_id)

    def active_kek_version(self, ring_id: str) -> int:
        return self._with_reload(ring_id, lambda p: p.active_kek_version(ring_id))

    def kek_versions(self, ring_id: str) -> Mapping[int, KekState]:
        return self._with_reload(ring_id, lambda p: p.kek_versions(ring_id))

    def wrap_dek(self, ring_id: str, dek: bytes, aad: bytes) -> tuple[int, bytes]:
        return self._with_reload(ring_id, lambda p: p.wrap_dek(ring_id, dek, aad))

    def unwrap_dek(self, ring_id: str, kek_version: int, wrapped: bytes, aad: bytes) -> bytes:
        return self._with_reload(ring_id, lambda p: p.unwrap_dek(ring_id, kek_version, wrapped, aad))

    def retire_kek(self, ring_id: str, kek_version: int) -> None:
        self._provider.retire_kek(ring_id, kek_version)

    def rotate_index_key(self, ring_id: str) -> int:
        return self._provider.rotate_index_key(ring_id)

    def active_index_key_version(self, ring_id: str) -> int:
        return self._with_reload(ring_id, lambda p: p.active_index_key_version(ring_id))

    def index_key(self, ring_id: str, key_version: int) -> bytes:
        return self._with_reload(ring_id, lambda p: p.index_key(ring_id, key_version))


def ensure_key_files(key_file: Path, signing_key_file: Path, origin: str) -> None:
    """Create the local key file and the audit signing key on a development instance's first run.

    Several workers may start at once: creation is atomic and exclusive, and the loser keeps the
    winner's file.
    """
    if not key_file.exists():
        with contextlib.suppress(FileExistsError):
            create_key_file(key_file)
    if not signing_key_file.exists():
        with contextlib.suppress(FileExistsError):
            create_signing_key_file(signing_key_file, origin)


def load_signer(signing_key_file: Path) -> CheckpointSigner:
    return load_signing_key_file(signing_key_file)
