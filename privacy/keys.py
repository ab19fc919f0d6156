"""Key hierarchy: key rings of versioned KEKs, the key-provider and key-store protocols, the local key file.

A *key ring* (the application keeps one per society) holds versioned key-encryption keys (KEK): one is
active and wraps every new data key, older ones stay usable for unwrapping until they are retired, and a
retired KEK's material is erased. A ring also holds versioned *blind-index keys*, which are independent
random keys (never derived from a data key or a KEK) used only for the blind indexes.

Data encryption keys (DEK) are per data subject (per person in a record) and versioned per subject. A
wrapped DEK records the KEK version that wrapped it and binds ring id, subject id, DEK version and KEK
version as associated data, so a wrapped key copied onto another subject does not unwrap.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import secrets
import stat
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy._encoding import lp, text, u32
from privacy.errors import DecryptionError, KeyConfigurationError

KEY_BYTES = 32
_WRAP_NONCE_BYTES = 12
_WRAP_LABEL = b"rfl/dek-wrap/v1"
KEY_FILE_FORMAT = "rfl-privacy-keys"
KEY_FILE_VERSION = 1


@dataclass(frozen=True, slots=True)
class WrappedDek:
    """One stored data key: what the application's key table holds per (ring, subject, DEK version).

    ``wrapped`` is empty and ``destroyed_at`` is set once the key was shredded.
    """

    ring_id: str
    subject_id: str
    dek_version: int
    kek_version: int
    wrapped: bytes
    created_at: datetime
    destroyed_at: datetime | None = None

    @property
    def destroyed(self) -> bool:
        return self.destroyed_at is not None


class KeyStore(Protocol):
    """Persistence of wrapped DEKs; the application implements it on its database.

    Every method must be atomic on its own; the application decides the transaction around them (a
    shredding is meant to share one transaction with the deletion of the subject's blind-index rows).
    """

    def store(self, record: WrappedDek, *, replaces: WrappedDek | None = None) -> bool:
        """Insert ``record`` or, with ``replaces``, swap it in (compare-and-set).

        Without ``replaces``: insert only if no row exists for (ring, subject, DEK version); return
        whether it was inserted. With ``replaces``: update only if the current row still equals
        ``replaces`` (same KEK version and wrapped bytes, not destroyed); return whether it did, so a
        rewrap racing with a shredding or another rewrap never resurrects or clobbers anything.
        """
        ...

    def load(self, ring_id: str, subject_id: str, dek_version: int | None = None) -> WrappedDek | None:
        """The row for that DEK version, or the subject's highest version when ``dek_version`` is None.

        Destroyed rows are returned (with ``destroyed_at`` set), so callers can tell "never had a key"
        from "shredded".
        """
        ...

    def mark_destroyed(
        self, ring_id: str, subject_id: str, at: datetime, *, dek_version: int | None = None
    ) -> Sequence[WrappedDek]:
        """Erase the wrapped bytes of the subject's DEKs (one version, or all) and set ``destroyed_at``.

        Returns the rows as they were before, for the ones destroyed by this call only.
        """
        ...

    def list_by_kek_version(
        self,
        ring_id: str,
        kek_version: int,
        *,
        after: tuple[str, int] | None = None,
        limit: int = 1000,
    ) -> Sequence[WrappedDek]:
        """Undestroyed rows wrapped under that KEK version, ordered by (subject id, DEK version).

        ``after`` is the (subject id, DEK version) of the last row of the previous page.
        """
        ...


class KekState(StrEnum):
    ACTIVE = "active"
    DECRYPT_ONLY = "decrypt_only"
    RETIRED = "retired"


@runtime_checkable
class KeyProvider(Protocol):
    """Where KEKs and blind-index keys live. The local key file implements it; a KMS or Vault provider
    can implement the same methods (wrapping and unwrapping happen inside the provider, so KEK
    material need never leave a KMS).
    """

    def active_kek_version(self, ring_id: str) -> int: ...

    def kek_versions(self, ring_id: str) -> Mapping[int, KekState]: ...

    def wrap_dek(self, ring_id: str, dek: bytes, aad: bytes) -> tuple[int, bytes]:
        """Wrap under the active KEK; return (KEK version, wrapped bytes)."""
        ...

    def unwrap_dek(self, ring_id: str, kek_version: int, wrapped: bytes, aad: bytes) -> bytes:
        """Unwrap; raise :class:`DecryptionError` for any failure, a retired KEK included."""
        ...

    def retire_kek(self, ring_id: str, kek_version: int) -> None:
        """Destroy a KEK version's material. Use :func:`privacy.retire_kek`, which checks it is unused."""
        ...

    def active_index_key_version(self, ring_id: str) -> int: ...

    def index_key(self, ring_id: str, key_version: int) -> bytes:
        """The blind-index root key of that version (32 random bytes, independent of every DEK)."""
        ...


def wrap_aad(ring_id: str, subject_id: str, dek_version: int, kek_version: int) -> bytes:
    """Associated data of a wrapped DEK: binds it to its ring, subject, DEK version and KEK version."""
    return lp(_WRAP_LABEL, text(ring_id), text(subject_id), u32(dek_version), u32(kek_version))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise KeyConfigurationError(f"key file: {what} is not a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigurationError(f"key file: {what} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyConfigurationError(f"key file: {what} is not {KEY_BYTES} bytes")
    return raw


@dataclass(slots=True)
class _Kek:
    key: bytes | None  # None once retired: the material is erased
    created_at: str
    retired_at: str | None = None


@dataclass(slots=True)
class _Ring:
    active_kek: int
    keks: dict[int, _Kek]
    active_index_key: int
    index_keys: dict[int, bytes]


def _now_text() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _new_ring() -> _Ring:
    now = _now_text()
    return _Ring(
        active_kek=1,
        keks={1: _Kek(key=secrets.token_bytes(KEY_BYTES), created_at=now)},
        active_index_key=1,
        index_keys={1: secrets.token_bytes(KEY_BYTES)},
    )


class LocalKeyProvider:
    """Key provider over a local JSON key file (the embedded default; created by the app in dev mode).

    File format (JSON, mode 0600, written atomically)::

        {"format": "rfl-privacy-keys", "version": 1,
         "rings": {"<ring id>": {
             "active_kek": 2,
             "keks": {"1": {"key": null, "created_at": "...", "retired_at": "..."},
                      "2": {"key": "<base64 32 bytes>", "created_at": "...", "retired_at": null}},
             "active_index_key": 1,
             "index_keys": {"1": "<base64 32 bytes>"}}}}

    KEKs wrap DEKs with AES-256-GCM (random 96-bit nonce, AAD from :func:`wrap_aad`); the wrapped form
    is ``nonce || ciphertext+tag``. The Ed25519 checkpoint-signing key is *not* in this file: it lives
    in its own file (see :func:`privacy.create_signing_key_file`), kept apart from the data keys.
    Mutations (new ring, KEK rotation, retirement) are saved to the file at once when it has a path.
    """

    def __init__(self, rings: dict[str, _Ring], path: Path | None = None) -> None:
        self._rings = rings
        self._path = path
        self._lock = threading.Lock()
        self._aeads: dict[tuple[str, int], AESGCM] = {}

    # -- construction and persistence -------------------------------------------------------------

    @classmethod
    def in_memory(cls, ring_ids: Sequence[str] = ()) -> LocalKeyProvider:
        """A provider with fresh random keys and no file (tests, benchmarks)."""
        return cls({ring_id: _new_ring() for ring_id in ring_ids})

    def to_json(self) -> str:
        rings: dict[str, Any] = {}
        for ring_id, ring in self._rings.items():
            rings[ring_id] = {
                "active_kek": ring.active_kek,
                "keks": {
                    str(v): {
                        "key": None if k.key is None else _b64(k.key),
                        "created_at": k.created_at,
                        "retired_at": k.retired_at,
                    }
                    for v, k in sorted(ring.keks.items())
                },
                "active_index_key": ring.active_index_key,
                "index_keys": {str(v): _b64(k) for v, k in sorted(ring.index_keys.items())},
            }
        doc = {"format": KEY_FILE_FORMAT, "version": KEY_FILE_VERSION, "rings": rings}
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, data: str, path: Path | None = None) -> LocalKeyProvider:
        try:
            doc = json.loads(data)
        except ValueError:
            raise KeyConfigurationError("key file is not valid JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != KEY_FILE_FORMAT:
            raise KeyConfigurationError("not an rfl privacy key file")
        if doc.get("version") != KEY_FILE_VERSION:
            raise KeyConfigurationError("unsupported key file version")
        rings_doc = doc.get("rings")
        if not isinstance(rings_doc, dict):
            raise KeyConfigurationError("key file: rings missing")
        rings = {str(ring_id): _parse_ring(str(ring_id), r) for ring_id, r in rings_doc.items()}
        return cls(rings, path)

    def save(self) -> None:
        """Write the key file atomically (temporary file with mode 0600, then rename)."""
        if self._path is None:
            return
        _write_private(self._path, self.to_json().encode("utf-8"))

    # -- administration ----------------------------------------------------------------------------

    @property
    def ring_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._rings))

    def add_ring(self, ring_id: str) -> None:
        with self._lock:
            if ring_id in self._rings:
                raise KeyConfigurationError("key ring already exists")
            self._rings[ring_id] = _new_ring()
            self.save()

    def rotate_kek(self, ring_id: str) -> int:
        """Add a new KEK version and make it active; older versions stay for unwrapping.

        Every process must reload the key file before the old version is retired, or a stale process
        could still wrap new DEKs under it. Then run :func:`privacy.rewrap_deks`.
        """
        with self._lock:
            ring = self._ring(ring_id)
            version = max(ring.keks) + 1
            ring.keks[version] = _Kek(key=secrets.token_bytes(KEY_BYTES), created_at=_now_text())
            ring.active_kek = version
            self.save()
            return version

    def rotate_index_key(self, ring_id: str) -> int:
        """Add a blind-index key version and make it active (build the new index version beside the
        old one, then swap it in)."""
        with self._lock:
            ring = self._ring(ring_id)
            version = max(ring.index_keys) + 1
            ring.index_keys[version] = secrets.token_bytes(KEY_BYTES)
            ring.active_index_key = version
            self.save()
            return version

    # -- KeyProvider ---------------------------------------------------------------------------------

    def active_kek_version(self, ring_id: str) -> int:
        return self._ring(ring_id).active_kek

    def kek_versions(self, ring_id: str) -> Mapping[int, KekState]:
        ring = self._ring(ring_id)
        states: dict[int, KekState] = {}
        for version, kek in sorted(ring.keks.items()):
            if kek.key is None:
                states[version] = KekState.RETIRED
            elif version == ring.active_kek:
                states[version] = KekState.ACTIVE
            else:
                states[version] = KekState.DECRYPT_ONLY
        return states

    def wrap_dek(self, ring_id: str, dek: bytes, aad: bytes) -> tuple[int, bytes]:
        version = self.active_kek_version(ring_id)
        nonce = os.urandom(_WRAP_NONCE_BYTES)
        return version, nonce + self._aead(ring_id, version).encrypt(nonce, dek, aad)

    def unwrap_dek(self, ring_id: str, kek_version: int, wrapped: bytes, aad: bytes) -> bytes:
        try:
            aead = self._aead(ring_id, kek_version)
        except KeyConfigurationError:
            raise DecryptionError from None
        if len(wrapped) != _WRAP_NONCE_BYTES + KEY_BYTES + 16:
            raise DecryptionError
        try:
            return aead.decrypt(wrapped[:_WRAP_NONCE_BYTES], wrapped[_WRAP_NONCE_BYTES:], aad)
        except InvalidTag:
            raise DecryptionError from None

    def retire_kek(self, ring_id: str, kek_version: int) -> None:
        with self._lock:
            ring = self._ring(ring_id)
            kek = ring.keks.get(kek_version)
            if kek is None:
                raise KeyConfigurationError("unknown KEK version")
            if kek_version == ring.active_kek:
                raise KeyConfigurationError("the active KEK cannot be retired")
            kek.key = None
            kek.retired_at = kek.retired_at or _now_text()
            self._aeads.pop((ring_id, kek_version), None)
            self.save()

    def active_index_key_version(self, ring_id: str) -> int:
        return self._ring(ring_id).active_index_key

    def index_key(self, ring_id: str, key_version: int) -> bytes:
        key = self._ring(ring_id).index_keys.get(key_version)
        if key is None:
            raise KeyConfigurationError("unknown blind-index key version")
        return key

    # -- internals -----------------------------------------------------------------------------------

    def _ring(self, ring_id: str) -> _Ring:
        ring = self._rings.get(ring_id)
        if ring is None:
            raise KeyConfigurationError("unknown key ring")
        return ring

    def _aead(self, ring_id: str, version: int) -> AESGCM:
        aead = self._aeads.get((ring_id, version))
        if aead is None:
            kek = self._ring(ring_id).keks.get(version)
            if kek is None or kek.key is None:
                raise KeyConfigurationError("unknown or retired KEK version")
            aead = AESGCM(kek.key)
            self._aeads[(ring_id, version)] = aead
        return aead


def _parse_ring(ring_id: str, doc: object) -> _Ring:
    where = f"ring {ring_id!r}"
    if not isinstance(doc, dict):
        raise KeyConfigurationError(f"key file: {where} is not an object")
    try:
        keks: dict[int, _Kek] = {}
        for version, kdoc in doc["keks"].items():
            key = None if kdoc["key"] is None else _unb64(kdoc["key"], f"{where} KEK {version}")
            keks[int(version)] = _Kek(
                key=key, created_at=str(kdoc["created_at"]), retired_at=kdoc["retired_at"]
            )
        index_keys = {int(v): _unb64(k, f"{where} index key {v}") for v, k in doc["index_keys"].items()}
        active_kek = int(doc["active_kek"])
        active_index_key = int(doc["active_index_key"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise KeyConfigurationError(f"key file: {where} is malformed") from None
    active = keks.get(active_kek)
    if active is None or active.key is None:
        raise KeyConfigurationError(f"key file: {where} has no usable active KEK")
    if active_index_key not in index_keys:
        raise KeyConfigurationError(f"key file: {where} has no active index key")
    return _Ring(active_kek, keks, active_index_key, index_keys)


def _write_private(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``, the file readable by its owner only."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def check_private_file(path: Path) -> None:
    """Refuse a key file that group or others may read or write."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyConfigurationError("key file must be readable by its owner only (mode 0600)")


def create_key_file(path: str | os.PathLike[str], ring_ids: Sequence[str] = ()) -> LocalKeyProvider:
    """Create a new key file (mode 0600; fails if it exists) with one fresh ring per id."""
    target = Path(path)
    provider = LocalKeyProvider({ring_id: _new_ring() for ring_id in ring_ids}, target)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(provider.to_json().encode("utf-8"))
    return provider


def load_key_file(path: str | os.PathLike[str]) -> LocalKeyProvider:
    """Load a key file, refusing one that is readable by group or others."""
    target = Path(path)
    check_private_file(target)
    return LocalKeyProvider.from_json(target.read_text(encoding="utf-8"), target)
