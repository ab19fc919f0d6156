"""In-memory cache of unwrapped DEKs and their derived field keys."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy.fields import derive_field_key

DEFAULT_TTL_SECONDS = 60.0
DEFAULT_MAX_SUBJECTS = 4096


@dataclass(slots=True)
class CachedDek:
    """One unwrapped DEK and the AES-GCM objects of the field keys derived from it so far."""

    dek: bytes
    expires_at: float
    field_aeads: dict[tuple[str, str], AESGCM] = field(default_factory=dict)

    def field_aead(self, table: str, column: str) -> AESGCM:
        aead = self.field_aeads.get((table, column))
        if aead is None:
            aead = AESGCM(derive_field_key(self.dek, table, column))
            self.field_aeads[(table, column)] = aead
        return aead


class KeyCache:
    """Bounded, short-lived cache of unwrapped DEKs per (ring, subject, DEK version).

    Entries expire ``ttl_seconds`` after they were unwrapped, whatever their use, and the least recently
    used entry is dropped beyond ``max_subjects``. Shredding evicts the subject at once in the process
    that shreds (:meth:`evict_subject`).

    Cross-process bound: another process (another app worker) that unwrapped the DEK before the
    shredding keeps it for at most ``ttl_seconds`` after it unwrapped it, so it can still decrypt that
    subject's fields for at most ``ttl_seconds`` after the shredding commits, and never after. The same
    bound applies to the "current DEK version" remembered for encryption. Keep the TTL short (default 60 s).

    ``clock`` returns seconds (monotonic by default); tests inject their own.
    """

    def __init__(
        self,
        *,
        max_subjects: int = DEFAULT_MAX_SUBJECTS,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_subjects < 1 or ttl_seconds <= 0:
            raise ValueError("the cache needs a positive size and TTL")
        self._max = max_subjects
        self._ttl = ttl_seconds
        self._clock = clock
        self._deks: OrderedDict[tuple[str, str, int], CachedDek] = OrderedDict()
        self._current: dict[tuple[str, str], tuple[int, float]] = {}
        self._lock = threading.Lock()

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    def get(self, ring_id: str, subject_id: str, dek_version: int) -> CachedDek | None:
        key = (ring_id, subject_id, dek_version)
        with self._lock:
            entry = self._deks.get(key)
            if entry is None:
                return None
            if entry.expires_at <= self._clock():
                del self._deks[key]
                return None
            self._deks.move_to_end(key)
            return entry

    def put(self, ring_id: str, subject_id: str, dek_version: int, dek: bytes) -> CachedDek:
        entry = CachedDek(dek=dek, expires_at=self._clock() + self._ttl)
        with self._lock:
            self._deks[(ring_id, subject_id, dek_version)] = entry
            self._deks.move_to_end((ring_id, subject_id, dek_version))
            while len(self._deks) > self._max:
                self._deks.popitem(last=False)
        return entry

    def current_version(self, ring_id: str, subject_id: str) -> int | None:
        with self._lock:
            hit = self._current.get((ring_id, subject_id))
            if hit is None:
                return None
            if hit[1] <= self._clock():
                del self._current[(ring_id, subject_id)]
                return None
            return hit[0]

    def set_current_version(self, ring_id: str, subject_id: str, dek_version: int) -> None:
        with self._lock:
            if len(self._current) >= self._max:
                self._current.clear()
            self._current[(ring_id, subject_id)] = (dek_version, self._clock() + self._ttl)

    def evict_subject(self, ring_id: str, subject_id: str) -> None:
        with self._lock:
            self._current.pop((ring_id, subject_id), None)
            for key in [k for k in self._deks if k[0] == ring_id and k[1] == subject_id]:
                del self._deks[key]

    def clear(self) -> None:
        with self._lock:
            self._deks.clear()
            self._current.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._deks)
