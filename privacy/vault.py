"""Envelope encryption of fields, KEK rotation, KEK retirement and crypto-shredding over a key store."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from privacy.cache import CachedDek, KeyCache
from privacy.errors import DecryptionError, KekInUseError, PrivacyError, SubjectErasedError
from privacy.fields import FieldValue, aad_head, aad_tail, field_aad, open_sealed, parse_header, seal
from privacy.fields import needs_reencryption as _token_needs_reencryption
from privacy.keys import KEY_BYTES, KekState, KeyProvider, KeyStore, WrappedDek, wrap_aad


@dataclass(frozen=True, slots=True)
class Subject:
    """A data subject (one person in one record) and the key ring (society) its key is wrapped under."""

    ring_id: str
    subject_id: str


@dataclass(frozen=True, slots=True)
class ShredReport:
    """What a shredding destroyed: the subject's DEK versions (empty if it was already shredded)."""

    subject: Subject
    destroyed_dek_versions: tuple[int, ...]
    already_destroyed: bool
    destroyed_at: datetime


@dataclass(frozen=True, slots=True, order=True)
class RewrapPosition:
    """Where a rewrap pass stands: the last row it looked at, in (KEK version, subject, DEK version) order."""

    kek_version: int
    subject_id: str
    dek_version: int


@dataclass(frozen=True, slots=True)
class RewrapReport:
    """Outcome of :func:`rewrap_deks` (a whole pass) or :func:`rewrap_batch` (one batch of a pass).

    ``rewrapped``: DEKs moved to the active KEK. ``skipped``: rows changed by someone else meanwhile
    (shredded or already rewrapped): nothing to do. ``failed``: (subject id, DEK version) of rows that
    did not unwrap; they keep their KEK version, which therefore cannot be retired. ``next``: where the
    next batch of the pass starts, or None when the pass is complete.
    """

    ring_id: str
    to_kek_version: int
    rewrapped: int
    skipped: int
    failed: tuple[tuple[str, int], ...]
    next: RewrapPosition | None = None

    def then(self, later: RewrapReport) -> RewrapReport:
        """This report followed by a later batch of the same pass: counts added, the later position."""
        return RewrapReport(
            self.ring_id,
            later.to_kek_version,
            self.rewrapped + later.rewrapped,
            self.skipped + later.skipped,
            self.failed + later.failed,
            later.next,
        )


# How often wrapping a new DEK is retried when the active KEK changes between reading its version
# and wrapping under it (another process rotated the ring at that very moment).
_WRAP_ATTEMPTS = 3


def _utcnow() -> datetime:
    return datetime.now(UTC)


class FieldVault:
    """Encrypt and decrypt personal-data fields bound to their place (table, column, row, subject).

    The one recipe the application calls for field data::

        vault = FieldVault(provider, store)
        token = vault.encrypt(subject, "sightings", "whereabouts", row_id, "Camp 4, tent 12")
        value = vault.decrypt(subject, "sightings", "whereabouts", row_id, token)

    Every decryption failure raises :class:`~privacy.DecryptionError`. A subject's DEK is created on
    first encryption (wrapped under the ring's active KEK, stored through ``store``). Unwrapped DEKs and
    field keys are cached in ``cache`` (see :class:`~privacy.KeyCache` for the expiry bound).
    """

    def __init__(
        self,
        provider: KeyProvider,
        store: KeyStore,
        *,
        cache: KeyCache | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._provider = provider
        self._store = store
        self._cache = cache if cache is not None else KeyCache()
        self._clock = clock

    @property
    def cache(self) -> KeyCache:
        return self._cache

    # -- fields ----------------------------------------------------------------------------------------

    def encrypt(
        self, subject: Subject, table: str, column: str, row_id: str, value: FieldValue | None
    ) -> bytes | None:
        if value is None:
            return None
        version, entry = self._current_key(subject)
        aad = field_aad(table, column, row_id, subject.subject_id, version)
        return seal(entry.field_aead(table, column), version, aad, value)

    def decrypt(
        self, subject: Subject, table: str, column: str, row_id: str, token: bytes | None
    ) -> FieldValue | None:
        if token is None:
            return None
        version = parse_header(token)
        aead = self._entry_for_decrypt(subject, version).field_aead(table, column)
        return open_sealed(aead, token, field_aad(table, column, row_id, subject.subject_id, version))

    def encrypt_fields(
        self, subject: Subject, table: str, row_id: str, values: Mapping[str, FieldValue | None]
    ) -> dict[str, bytes | None]:
        """Encrypt several columns of one row for one subject (one key lookup for all)."""
        version, entry = self._current_key(subject)
        tail = aad_tail(row_id, subject.subject_id, version)
        out: dict[str, bytes | None] = {}
        for column, value in values.items():
            if value is None:
                out[column] = None
                continue
            out[column] = seal(
                entry.field_aead(table, column), version, aad_head(table, column) + tail, value
            )
        return out

    def decrypt_fields(
        self, subject: Subject, table: str, row_id: str, tokens: Mapping[str, bytes | None]
    ) -> dict[str, FieldValue | None]:
        """Decrypt several columns of one row; any failure raises one DecryptionError."""
        out: dict[str, FieldValue | None] = {}
        entries: dict[int, tuple[CachedDek, bytes]] = {}  # one key lookup per DEK version, not per column
        for column, token in tokens.items():
            if token is None:
                out[column] = None
                continue
            version = parse_header(token)
            hit = entries.get(version)
            if hit is None:
                hit = entries[version] = (
                    self._entry_for_decrypt(subject, version),
                    aad_tail(row_id, subject.subject_id, version),
                )
            entry, tail = hit
            out[column] = open_sealed(entry.field_aead(table, column), token, aad_head(table, column) + tail)
        return out

    def uncached(self, wanted: Iterable[tuple[Subject, bytes | None]]) -> list[Subject]:
        """The subjects among ``wanted`` (each with a ciphertext of theirs, or None) whose data key for
        that ciphertext this process does not hold unwrapped: those that decrypting it would read from
        the key store. A malformed ciphertext's subject is left out (decrypting it fails anyway)."""
        missing = []
        for subject, token in wanted:
            if token is None:
                continue
            try:
                version = parse_header(token)
            except DecryptionError:
                continue
            if self._cache.get(subject.ring_id, subject.subject_id, version) is None:
                missing.append(subject)
        return missing

    # -- subject keys --------------------------------------------------------------------------------

    def ensure_subject_key(self, subject: Subject) -> int:
        """Create the subject's DEK if it has none; return its current DEK version.

        Meant for subjects just made (a new record's people): the key is stored without looking for
        one first (one statement, not two); a subject that has one already keeps it.
        """
        version = self._cache.current_version(subject.ring_id, subject.subject_id)
        if version is not None and self._cache.get(subject.ring_id, subject.subject_id, version) is not None:
            return version
        if self._create(subject, 1) is None:  # it has a key (or had one, if it was erased)
            return self._current_key(subject)[0]
        self._cache.set_current_version(subject.ring_id, subject.subject_id, 1)
        return 1

    def current_dek_version(self, subject: Subject) -> int | None:
        record = self._store.load(subject.ring_id, subject.subject_id)
        if record is None or record.destroyed:
            return None
        return record.dek_version

    def needs_reencryption(self, subject: Subject, token: bytes) -> bool:
        """True if ``token`` is not under the subject's current DEK version and format."""
        current = self.current_dek_version(subject)
        return current is None or _token_needs_reencryption(token, current)

    def rotate_subject_key(self, subject: Subject) -> int:
        """Give the subject a new DEK version; old versions still decrypt until the application has
        re-encrypted the fields that :meth:`needs_reencryption` reports and destroyed the old version
        with :func:`shred_subject` (``dek_version=``)."""
        record = self._store.load(subject.ring_id, subject.subject_id)
        if record is not None and record.destroyed:
            raise SubjectErasedError("the subject's key was destroyed")
        version = 1 if record is None else record.dek_version + 1
        created = self._create(subject, version)
        if created is None:
            raise PrivacyError("concurrent key rotation for this subject; retry")
        self._cache.set_current_version(subject.ring_id, subject.subject_id, version)
        return version

    def shred(self, subject: Subject) -> ShredReport:
        """Crypto-shred the subject (all DEK versions); see :func:`shred_subject`."""
        return shred_subject(self._store, subject, cache=self._cache, now=self._clock())

    # -- internals -----------------------------------------------------------------------------------

    def _create(self, subject: Subject, dek_version: int) -> CachedDek | None:
        dek = secrets.token_bytes(KEY_BYTES)
        kek_version, wrapped = wrap_under_active_kek(self._provider, subject, dek_version, dek)
        record = WrappedDek(
            ring_id=subject.ring_id,
            subject_id=subject.subject_id,
            dek_version=dek_version,
            kek_version=kek_version,
            wrapped=wrapped,
            created_at=self._clock(),
        )
        if not self._store.store(record):
            return None
        return self._cache.put(subject.ring_id, subject.subject_id, dek_version, dek)

    def _current_key(self, subject: Subject) -> tuple[int, CachedDek]:
        version = self._cache.current_version(subject.ring_id, subject.subject_id)
        if version is not None:
            entry = self._cache.get(subject.ring_id, subject.subject_id, version)
            if entry is not None:
                return version, entry
        record = self._store.load(subject.ring_id, subject.subject_id)
        if record is None:
            created = self._create(subject, 1)
            if created is not None:
                self._cache.set_current_version(subject.ring_id, subject.subject_id, 1)
                return 1, created
            record = self._store.load(subject.ring_id, subject.subject_id)  # lost an insert race
            if record is None:
                raise PrivacyError("key store refused a new key but has none")
        if record.destroyed:
            raise SubjectErasedError("the subject's key was destroyed")
        entry = self._unwrap(record)
        self._cache.set_current_version(subject.ring_id, subject.subject_id, record.dek_version)
        return record.dek_version, entry

    def _entry_for_decrypt(self, subject: Subject, version: int) -> CachedDek:
        entry = self._cache.get(subject.ring_id, subject.subject_id, version)
        if entry is None:
            try:
                record = self._store.load(subject.ring_id, subject.subject_id, version)
            except PrivacyError:
                raise DecryptionError from None
            if record is None or record.destroyed or record.dek_version != version:
                raise DecryptionError
            entry = self._unwrap(record)
        return entry

    def _unwrap(self, record: WrappedDek) -> CachedDek:
        aad = wrap_aad(record.ring_id, record.subject_id, record.dek_version, record.kek_version)
        try:
            dek = self._provider.unwrap_dek(record.ring_id, record.kek_version, record.wrapped, aad)
        except PrivacyError:
            raise DecryptionError from None
        return self._cache.put(record.ring_id, record.subject_id, record.dek_version, dek)


def shred_subject(
    store: KeyStore,
    subject: Subject,
    *,
    cache: KeyCache | None = None,
    now: datetime | None = None,
    dek_version: int | None = None,
) -> ShredReport:
    """Destroy the subject's DEK (every version, or one) so that its fields can never be decrypted.

    Call it in the same transaction that deletes the subject's blind-index rows. The local cache is
    evicted at once; other processes stop decrypting within their cache TTL (see :class:`KeyCache`).
    The data is unrecoverable from backups too once the KEK versions that wrapped the DEK in those
    backups are retired.
    """
    at = now if now is not None else _utcnow()
    destroyed = store.mark_destroyed(subject.ring_id, subject.subject_id, at, dek_version=dek_version)
    if cache is not None:
        cache.evict_subject(subject.ring_id, subject.subject_id)
    versions = tuple(sorted(r.dek_version for r in destroyed))
    return ShredReport(
        subject=subject, destroyed_dek_versions=versions, already_destroyed=not versions, destroyed_at=at
    )


def wrap_under_active_kek(
    provider: KeyProvider, subject: Subject, dek_version: int, dek: bytes
) -> tuple[int, bytes]:
    """Wrap ``dek`` under the ring's active KEK; return (KEK version, wrapped bytes).

    The KEK version is part of the associated data, so it is read before wrapping; if another process
    rotates the ring in between, the provider wraps under the newer version and the wrap is redone
    under that one (a few times at most) instead of failing the caller.
    """
    for _ in range(_WRAP_ATTEMPTS):
        kek_version = provider.active_kek_version(subject.ring_id)
        aad = wrap_aad(subject.ring_id, subject.subject_id, dek_version, kek_version)
        wrapped_under, wrapped = provider.wrap_dek(subject.ring_id, dek, aad)
        if wrapped_under == kek_version:
            return kek_version, wrapped
    raise PrivacyError("the active KEK kept changing while a data key was wrapped; retry")


def rewrap_batch(
    store: KeyStore,
    provider: KeyProvider,
    ring_id: str,
    *,
    after: RewrapPosition | None = None,
    limit: int = 500,
) -> RewrapReport:
    """Rewrap at most ``limit`` DEKs of the ring that are under an older (not retired) KEK version.

    One batch of a pass over the older versions in (KEK version, subject id, DEK version) order,
    starting after ``after``; the report's ``next`` is where the next batch starts (None: the pass is
    complete). The application commits between batches, so a long rotation never holds one giant
    transaction. A pass sees only the rows that exist when it reaches them: a DEK that a stale
    process wrapped under an older version behind the pass is left for the next pass (the sweep).

    Safe while the system serves: each row is swapped with a compare-and-set, so a concurrent
    shredding or rewrap wins and the row is just skipped.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    active = provider.active_kek_version(ring_id)
    rows = _rows_under_older_keks(store, provider, ring_id, after, limit)
    outcomes = [_rewrap_one(store, provider, row) for row in rows]
    failed = tuple(
        (row.subject_id, row.dek_version) for row, done in zip(rows, outcomes, strict=True) if done is None
    )
    last = rows[-1] if len(rows) == limit else None
    position = None if last is None else RewrapPosition(last.kek_version, last.subject_id, last.dek_version)
    return RewrapReport(ring_id, active, outcomes.count(True), outcomes.count(False), failed, next=position)


def _rows_under_older_keks(
    store: KeyStore, provider: KeyProvider, ring_id: str, after: RewrapPosition | None, limit: int
) -> list[WrappedDek]:
    """The next ``limit`` rows under older, unretired KEK versions after ``after``, in pass order."""
    rows: list[WrappedDek] = []
    for version in _older_versions(provider, ring_id, include_retired=False):
        if after is not None and version < after.kek_version:
            continue
        resume_at = (after.subject_id, after.dek_version) if after and version == after.kek_version else None
        rows.extend(store.list_by_kek_version(ring_id, version, after=resume_at, limit=limit - len(rows)))
        if len(rows) >= limit:
            break
    return rows


def _rewrap_one(store: KeyStore, provider: KeyProvider, record: WrappedDek) -> bool | None:
    """Move one DEK under the active KEK: True if done, False if the row changed meanwhile, None if
    it does not unwrap."""
    old_aad = wrap_aad(record.ring_id, record.subject_id, record.dek_version, record.kek_version)
    try:
        dek = provider.unwrap_dek(record.ring_id, record.kek_version, record.wrapped, old_aad)
    except DecryptionError:
        return None
    subject = Subject(record.ring_id, record.subject_id)
    kek_version, wrapped = wrap_under_active_kek(provider, subject, record.dek_version, dek)
    new = dataclasses.replace(record, kek_version=kek_version, wrapped=wrapped)
    return store.store(new, replaces=record)


def rewrap_deks(
    store: KeyStore, provider: KeyProvider, ring_id: str, *, batch_size: int = 500
) -> RewrapReport:
    """Rewrap every DEK of the ring that is not under the active KEK, in one pass of batches over the
    same store (no commits between them: see :func:`rewrap_batch` for that). No field ciphertext is
    touched.

    Resumable: an interrupted run leaves finished rows under the new KEK, and running it again picks
    up the rest.
    """
    report = rewrap_batch(store, provider, ring_id, limit=batch_size)
    while report.next is not None:
        report = report.then(rewrap_batch(store, provider, ring_id, after=report.next, limit=batch_size))
    return report


def deks_under_older_keks(
    store: KeyStore, provider: KeyProvider, ring_id: str, *, page_size: int = 1000
) -> dict[int, int]:
    """How many undestroyed DEKs each KEK version other than the active one still wraps (versions
    with none left out; retired versions included, since a DEK under one is lost)."""
    counts: dict[int, int] = {}
    for version in _older_versions(provider, ring_id, include_retired=True):
        cursor: tuple[str, int] | None = None
        while page := store.list_by_kek_version(ring_id, version, after=cursor, limit=page_size):
            counts[version] = counts.get(version, 0) + len(page)
            cursor = (page[-1].subject_id, page[-1].dek_version)
    return counts


def _older_versions(provider: KeyProvider, ring_id: str, *, include_retired: bool) -> list[int]:
    active = provider.active_kek_version(ring_id)
    return [
        version
        for version, state in sorted(provider.kek_versions(ring_id).items())
        if version != active and (include_retired or state is not KekState.RETIRED)
    ]


def retire_kek(store: KeyStore, provider: KeyProvider, ring_id: str, kek_version: int) -> None:
    """Retire (destroy) a KEK version, only if it is not active and no stored DEK is wrapped under it."""
    if kek_version == provider.active_kek_version(ring_id):
        raise KekInUseError("the active KEK cannot be retired")
    if store.list_by_kek_version(ring_id, kek_version, limit=1):
        raise KekInUseError("data keys are still wrapped under this KEK version; rewrap them first")
    provider.retire_kek(ring_id, kek_version)
