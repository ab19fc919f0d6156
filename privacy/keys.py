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
import copy
import fcntl
import json
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy._encoding import lp, text, u32
from privacy.errors import DecryptionError, KeyConfigurationError

KEY_BYTES = 32
_WRAP_NONCE_BYTES = 12
_WRAP_LABEL = b"rfl/dek-wrap/v1"
KEY_FILE_FORMAT = "rfl-privacy-keys"
KEY_FILE_VERSION = 1

T = TypeVar("T")


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


@dataclass(frozen=True, slots=True)
class FileStamp:
    """Identifies one version of the key file: every atomic replace gives a new inode and mtime."""

    inode: int
    mtime_ns: int
    size: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileStamp:
        return cls(st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass(slots=True)
class _Snapshot:
    """One consistent state of the rings, with the AEADs built from it and the file it was read from.

    A mutation or reload swaps in a whole new snapshot, so a thread that took the old one keeps a
    consistent view and no AEAD of a KEK retired meanwhile is ever cached into the new one.
    """

    rings: dict[str, _Ring]
    stamp: FileStamp | None = None
    aeads: dict[tuple[str, int], AESGCM] = field(default_factory=dict)


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

    Several processes share the file. Every mutation (new ring, KEK or index-key rotation, retirement)
    is a read-modify-write under an exclusive OS lock on the sibling file ``<name>.lock``: it rereads
    the file, applies the change and replaces the file atomically before releasing the lock, so no
    process ever writes back a stale copy and loses another one's KEK. Readers take no lock: the file
    is only ever replaced whole (rename), so every open sees one complete version.
    """

    def __init__(
        self, rings: dict[str, _Ring], path: Path | None = None, *, stamp: FileStamp | None = None
    ) -> None:
        self._snapshot = _Snapshot(rings, stamp)
        self._path = path
        self._lock = threading.Lock()

    # -- construction and persistence -------------------------------------------------------------

    @classmethod
    def in_memory(cls, ring_ids: Sequence[str] = ()) -> LocalKeyProvider:
        """A provider with fresh random keys and no file (tests, benchmarks)."""
        return cls({ring_id: _new_ring() for ring_id in ring_ids})

    def to_json(self) -> str:
        return _dump_rings(self._snapshot.rings)

    @classmethod
    def from_json(cls, data: str, path: Path | None = None) -> LocalKeyProvider:
        return cls(_parse_rings(data), path)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def stamp(self) -> FileStamp | None:
        """The version of the key file this provider's keys were read from (None without a file)."""
        return self._snapshot.stamp

    def changed_on_disk(self) -> bool:
        """Whether the key file was replaced since this provider last read or wrote it."""
        if self._path is None:
            return False
        return FileStamp.of(self._path.stat()) != self._snapshot.stamp

    def reload(self) -> None:
        """Read the key file again (no lock needed: it is only ever replaced whole)."""
        if self._path is None:
            return
        data, stamp = _read_private(self._path)
        self._snapshot = _Snapshot(_parse_rings(data), stamp)

    # -- administration ----------------------------------------------------------------------------

    @property
    def ring_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._snapshot.rings))

    def has_ring(self, ring_id: str) -> bool:
        return ring_id in self._snapshot.rings

    def add_ring(self, ring_id: str) -> None:
        def add(rings: dict[str, _Ring]) -> None:
            if ring_id in rings:
                raise KeyConfigurationError("key ring already exists")
            rings[ring_id] = _new_ring()

        self._mutate(add)

    def rotate_kek(self, ring_id: str) -> int:
        """Add a new KEK version and make it active; older versions stay for unwrapping.

        Every process must reload the key file before the old version is retired, or a stale process
        could still wrap new DEKs under it. Then run :func:`privacy.rewrap_deks`.
        """

        def rotate(rings: dict[str, _Ring]) -> int:
            ring = _ring_of(rings, ring_id)
            version = max(ring.keks) + 1
            ring.keks[version] = _Kek(key=secrets.token_bytes(KEY_BYTES), created_at=_now_text())
            ring.active_kek = version
            return version

        return self._mutate(rotate)

    def rotate_index_key(self, ring_id: str) -> int:
        """Add a blind-index key version and make it active (build the new index version beside the
        old one, then swap it in)."""

        def rotate(rings: dict[str, _Ring]) -> int:
            ring = _ring_of(rings, ring_id)
            version = max(ring.index_keys) + 1
            ring.index_keys[version] = secrets.token_bytes(KEY_BYTES)
            ring.active_index_key = version
            return version

        return self._mutate(rotate)

    # -- KeyProvider ---------------------------------------------------------------------------------

    def active_kek_version(self, ring_id: str) -> int:
        return _ring_of(self._snapshot.rings, ring_id).active_kek

    def kek_versions(self, ring_id: str) -> Mapping[int, KekState]:
        ring = _ring_of(self._snapshot.rings, ring_id)
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
        snapshot = self._snapshot
        version = _ring_of(snapshot.rings, ring_id).active_kek
        nonce = os.urandom(_WRAP_NONCE_BYTES)
        return version, nonce + _aead(snapshot, ring_id, version).encrypt(nonce, dek, aad)

    def unwrap_dek(self, ring_id: str, kek_version: int, wrapped: bytes, aad: bytes) -> bytes:
        try:
            aead = _aead(self._snapshot, ring_id, kek_version)
        except KeyConfigurationError:
            raise DecryptionError from None
        if len(wrapped) != _WRAP_NONCE_BYTES + KEY_BYTES + 16:
            raise DecryptionError
        try:
            return aead.decrypt(wrapped[:_WRAP_NONCE_BYTES], wrapped[_WRAP_NONCE_BYTES:], aad)
        except InvalidTag:
            raise DecryptionError from None

    def retire_kek(self, ring_id: str, kek_version: int) -> None:
        def retire(rings: dict[str, _Ring]) -> None:
            ring = _ring_of(rings, ring_id)
            kek = ring.keks.get(kek_version)
            if kek is None:
                raise KeyConfigurationError("unknown KEK version")
            if kek_version == ring.active_kek:
                raise KeyConfigurationError("the active KEK cannot be retired")
            kek.key = None
            kek.retired_at = kek.retired_at or _now_text()

        self._mutate(retire)

    def active_index_key_version(self, ring_id: str) -> int:
        return _ring_of(self._snapshot.rings, ring_id).active_index_key

    def index_key(self, ring_id: str, key_version: int) -> bytes:
        key = _ring_of(self._snapshot.rings, ring_id).index_keys.get(key_version)
        if key is None:
            raise KeyConfigurationError("unknown blind-index key version")
        return key

    # -- internals -----------------------------------------------------------------------------------

    def _mutate(self, change: Callable[[dict[str, _Ring]], T]) -> T:
        """Apply ``change`` to the current rings and persist them, exclusively across processes.

        With a file, the rings are reread from disk under the lock (another process may have changed
        them since this one loaded them), and the file is replaced before the lock is released. The
        change runs on a copy: if it raises, nothing changes, on disk or in memory.
        """
        with self._lock:
            if self._path is None:
                rings = copy.deepcopy(self._snapshot.rings)
                result = change(rings)
                self._snapshot = _Snapshot(rings)
                return result
            with _exclusive_lock(self._path):
                data, _ = _read_private(self._path)
                rings = _parse_rings(data)
                result = change(rings)
                stamp = _replace_private(self._path, _dump_rings(rings).encode("utf-8"))
            self._snapshot = _Snapshot(rings, stamp)
            return result


def _ring_of(rings: Mapping[str, _Ring], ring_id: str) -> _Ring:
    ring = rings.get(ring_id)
    if ring is None:
        raise KeyConfigurationError("unknown key ring")
    return ring


def _aead(snapshot: _Snapshot, ring_id: str, version: int) -> AESGCM:
    aead = snapshot.aeads.get((ring_id, version))
    if aead is None:
        kek = _ring_of(snapshot.rings, ring_id).keks.get(version)
        if kek is None or kek.key is None:
            raise KeyConfigurationError("unknown or retired KEK version")
        aead = AESGCM(kek.key)
        snapshot.aeads[(ring_id, version)] = aead
    return aead


def _dump_rings(rings: Mapping[str, _Ring]) -> str:
    doc_rings: dict[str, Any] = {}
    for ring_id, ring in rings.items():
        doc_rings[ring_id] = {
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
    doc = {"format": KEY_FILE_FORMAT, "version": KEY_FILE_VERSION, "rings": doc_rings}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _parse_rings(data: str) -> dict[str, _Ring]:
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
    return {str(ring_id): _parse_ring(str(ring_id), r) for ring_id, r in rings_doc.items()}


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


# -- private files: exclusive lock, atomic replace, atomic create --------------------------------------


def _lock_path(path: Path) -> Path:
    """The sibling file whose OS lock guards every read-modify-write of ``path``."""
    return path.with_name(f"{path.name}.lock")


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the key file's lock file (blocks until other holders finish).

    The lock lives on a separate file that is never replaced: a lock on the key file itself would
    be lost with the inode at the first atomic replace. Closing the descriptor releases it, also when
    the process dies.
    """
    fd = os.open(_lock_path(path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_private(path: Path) -> tuple[str, FileStamp]:
    """Read a private file and the stamp of that very version (one open file for both)."""
    with path.open("rb") as fh:
        st = os.fstat(fh.fileno())
        _check_private_mode(st)
        data = fh.read()
    return data.decode("utf-8"), FileStamp.of(st)


def _write_temp(path: Path, data: bytes) -> Path:
    """Write ``data`` to a new file (mode 0600) beside ``path`` and flush it to disk."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        _discard(tmp)
        raise
    return tmp


def _replace_private(path: Path, data: bytes) -> FileStamp:
    """Atomically replace ``path`` with ``data`` (mode 0600); returns the new version's stamp.

    The directory is synced after the rename so that the new version, not the old one, survives a
    crash; readers see the old file or the new one, never a part of either.
    """
    tmp = _write_temp(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise
    _fsync_directory(path.parent)
    return FileStamp.of(path.stat())


def create_private_file(path: Path, data: bytes) -> None:
    """Create ``path`` holding ``data`` (mode 0600) atomically; FileExistsError if it exists.

    Written beside it first and then linked into place, so a reader never sees it half-written and
    two processes creating it at once cannot both succeed.
    """
    tmp = _write_temp(path, data)
    try:
        os.link(tmp, path)
    finally:
        _discard(tmp)
    _fsync_directory(path.parent)


def _discard(tmp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_private_mode(st: os.stat_result) -> None:
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyConfigurationError("key file must be readable by its owner only (mode 0600)")


def check_private_file(path: Path) -> None:
    """Refuse a key file that group or others may read or write."""
    _check_private_mode(path.stat())


def create_key_file(path: str | os.PathLike[str], ring_ids: Sequence[str] = ()) -> LocalKeyProvider:
    """Create a new key file (mode 0600; fails if it exists) with one fresh ring per id."""
    target = Path(path)
    rings = {ring_id: _new_ring() for ring_id in ring_ids}
    create_private_file(target, _dump_rings(rings).encode("utf-8"))
    return load_key_file(target)


def load_key_file(path: str | os.PathLike[str]) -> LocalKeyProvider:
    """Load a key file, refusing one that is readable by group or others."""
    target = Path(path)
    data, stamp = _read_private(target)
    return LocalKeyProvider(_parse_rings(data), target, stamp=stamp)
