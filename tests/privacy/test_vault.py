"""Key lifecycle over the key store: KEK rotation and retirement, subject-key rotation, shredding, cache."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from privacy import (
    DecryptionError,
    FieldVault,
    KekInUseError,
    KeyCache,
    LocalKeyProvider,
    PrivacyError,
    RewrapPosition,
    Subject,
    SubjectErasedError,
    WrappedDek,
    create_key_file,
    deks_under_older_keks,
    load_key_file,
    retire_kek,
    rewrap_batch,
    rewrap_deks,
    shred_subject,
)
from privacy.keys import wrap_aad
from privacy.testing import InMemoryKeyStore

from .conftest import FakeClock

Row = tuple[Subject, str, str, str]  # subject, table, column, row id


def populate(vault: FieldVault, n_subjects: int = 12) -> dict[Row, bytes | None]:
    """A small 'database' of field ciphertexts: a few fields per subject."""
    db: dict[Row, bytes | None] = {}
    for i in range(n_subjects):
        subject = Subject("IT" if i % 3 else "GR", f"subject-{i:03d}")
        for column in ("family_name", "whereabouts", "contact"):
            db[(subject, "sightings", column, f"row-{i}")] = vault.encrypt(
                subject, "sightings", column, f"row-{i}", f"{column} of {i}"
            )
    return db


def assert_all_decrypt(vault: FieldVault, db: dict[Row, bytes | None]) -> None:
    for (subject, table, column, row_id), token in db.items():
        assert vault.decrypt(subject, table, column, row_id, token) == f"{column} of {row_id[4:]}"


# -- KEK rotation ----------------------------------------------------------------------------------------


def test_kek_rotation_rewraps_every_dek_and_touches_no_field(
    provider: LocalKeyProvider, store: InMemoryKeyStore, make_vault: Callable[[], FieldVault]
) -> None:
    # Given fields encrypted under KEK 1
    db = populate(make_vault())
    before = dict(db)
    it_rows = [r for r in store.rows() if r.ring_id == "IT"]
    assert {r.kek_version for r in it_rows} == {1}
    # When the IT ring gets KEK 2 and its DEKs are rewrapped
    assert provider.rotate_kek("IT") == 2
    report = rewrap_deks(store, provider, "IT", batch_size=3)
    # Then every IT DEK is under KEK 2, GR is untouched, no field ciphertext changed, all still decrypt
    assert report.rewrapped == len(it_rows)
    assert report.failed == ()
    assert {r.kek_version for r in store.rows() if r.ring_id == "IT"} == {2}
    assert {r.kek_version for r in store.rows() if r.ring_id == "GR"} == {1}
    assert db == before
    assert_all_decrypt(make_vault(), db)  # a fresh process: every DEK is unwrapped again
    # And the old KEK can now be retired, after which it unwraps nothing
    old = it_rows[0]
    retire_kek(store, provider, "IT", 1)
    with pytest.raises(DecryptionError):
        provider.unwrap_dek("IT", 1, old.wrapped, wrap_aad("IT", old.subject_id, old.dek_version, 1))
    assert_all_decrypt(make_vault(), db)


def test_kek_cannot_be_retired_while_in_use_or_active(
    provider: LocalKeyProvider, store: InMemoryKeyStore
) -> None:
    populate(FieldVault(provider, store))
    with pytest.raises(KekInUseError):
        retire_kek(store, provider, "IT", 1)  # active
    provider.rotate_kek("IT")
    with pytest.raises(KekInUseError):
        retire_kek(store, provider, "IT", 1)  # still wraps DEKs
    rewrap_deks(store, provider, "IT")
    retire_kek(store, provider, "IT", 1)
    with pytest.raises(KekInUseError):
        retire_kek(store, provider, "IT", 2)


def test_retired_kek_material_is_erased_from_the_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    provider = create_key_file(path, ["IT", "GR"])
    store = InMemoryKeyStore()
    populate(FieldVault(provider, store), 3)
    old_key = json.loads(provider.to_json())["rings"]["IT"]["keks"]["1"]["key"]
    assert old_key in path.read_text()
    provider.rotate_kek("IT")
    rewrap_deks(store, provider, "IT")
    retire_kek(store, provider, "IT", 1)
    text = path.read_text()
    assert old_key not in text
    assert load_key_file(path).kek_versions("IT")[1] == "retired"


class FlakyStore(InMemoryKeyStore):
    """Fails the n-th compare-and-set, like a process killed in the middle of a rotation."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at
        self.swaps = 0

    def store(self, record: WrappedDek, *, replaces: WrappedDek | None = None) -> bool:
        if replaces is not None:
            self.swaps += 1
            if self.swaps == self.fail_at:
                raise ConnectionError("database went away")
        return super().store(record, replaces=replaces)


def test_rotation_is_resumable(provider: LocalKeyProvider, clock: FakeClock) -> None:
    store = FlakyStore(fail_at=5)
    db = populate(FieldVault(provider, store))
    provider.rotate_kek("IT")
    with pytest.raises(ConnectionError):
        rewrap_deks(store, provider, "IT", batch_size=2)
    # part of the ring moved, the rest did not, everything still decrypts
    versions = [r.kek_version for r in store.rows() if r.ring_id == "IT"]
    assert set(versions) == {1, 2}
    assert_all_decrypt(FieldVault(provider, store), db)
    # running it again finishes the job
    report = rewrap_deks(store, provider, "IT", batch_size=2)
    assert report.rewrapped == versions.count(1)
    assert {r.kek_version for r in store.rows() if r.ring_id == "IT"} == {2}
    assert_all_decrypt(FieldVault(provider, store), db)


class ShredDuringRewrapStore(InMemoryKeyStore):
    """A shredding commits between the rewrap's read and its write."""

    def __init__(self) -> None:
        super().__init__()
        self.victim: str | None = None

    def list_by_kek_version(
        self, ring_id: str, kek_version: int, *, after: tuple[str, int] | None = None, limit: int = 1000
    ) -> Sequence[WrappedDek]:
        page = super().list_by_kek_version(ring_id, kek_version, after=after, limit=limit)
        if self.victim is not None:
            self.mark_destroyed(ring_id, self.victim, datetime.now(UTC))
        return page


def test_rotation_never_resurrects_a_key_shredded_meanwhile(provider: LocalKeyProvider) -> None:
    store = ShredDuringRewrapStore()
    vault = FieldVault(provider, store)
    db = populate(vault)
    provider.rotate_kek("IT")
    store.victim = "subject-001"
    report = rewrap_deks(store, provider, "IT")
    assert report.skipped == 1
    victim = store.load("IT", "subject-001")
    assert victim is not None
    assert victim.destroyed
    assert victim.wrapped == b""
    token = db[(Subject("IT", "subject-001"), "sightings", "contact", "row-1")]
    with pytest.raises(DecryptionError):
        FieldVault(provider, store).decrypt(
            Subject("IT", "subject-001"), "sightings", "contact", "row-1", token
        )


def test_corrupt_wrapped_key_is_reported_and_blocks_retirement(
    provider: LocalKeyProvider, store: InMemoryKeyStore
) -> None:
    populate(FieldVault(provider, store), 4)
    row = store.load("IT", "subject-001")
    assert row is not None
    broken = dataclasses.replace(row, wrapped=bytes(len(row.wrapped)))
    assert store.store(broken, replaces=row)
    provider.rotate_kek("IT")
    report = rewrap_deks(store, provider, "IT")
    assert report.failed == (("subject-001", 1),)
    with pytest.raises(KekInUseError):
        retire_kek(store, provider, "IT", 1)


class RotatedWhileWrapping:
    """A provider whose ring another process rotates between "which KEK is active?" and the wrap."""

    def __init__(self, inner: LocalKeyProvider, rotations: int) -> None:
        self.inner = inner
        self.rotations_left = rotations

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def active_kek_version(self, ring_id: str) -> int:
        version = self.inner.active_kek_version(ring_id)
        if self.rotations_left:
            self.rotations_left -= 1
            self.inner.rotate_kek(ring_id)
        return version


def test_a_key_created_while_another_process_rotates_is_wrapped_under_the_new_kek(
    provider: LocalKeyProvider, store: InMemoryKeyStore, alice: Subject
) -> None:
    vault = FieldVault(RotatedWhileWrapping(provider, rotations=1), store)

    token = vault.encrypt(alice, "t", "c", "r", "x")

    row = store.load("IT", alice.subject_id)
    assert row is not None
    assert row.kek_version == 2 == provider.active_kek_version("IT")
    assert FieldVault(provider, store).decrypt(alice, "t", "c", "r", token) == "x"


def test_a_kek_that_never_stops_changing_fails_the_wrap_cleanly(
    provider: LocalKeyProvider, store: InMemoryKeyStore, alice: Subject
) -> None:
    vault = FieldVault(RotatedWhileWrapping(provider, rotations=100), store)

    with pytest.raises(PrivacyError, match="kept changing"):
        vault.encrypt(alice, "t", "c", "r", "x")
    assert store.rows() == []


def test_rewrap_in_batches_reports_where_to_go_on(
    provider: LocalKeyProvider, store: InMemoryKeyStore
) -> None:
    populate(FieldVault(provider, store), 6)  # subjects 1, 2, 4, 5 are in IT
    provider.rotate_kek("IT")
    provider.rotate_kek("IT")  # DEKs under v1; v2 is older too but wraps nothing

    first = rewrap_batch(store, provider, "IT", limit=3)
    second = rewrap_batch(store, provider, "IT", after=first.next, limit=3)

    assert (first.rewrapped, first.next) == (3, RewrapPosition(1, "subject-004", 1))
    assert (second.rewrapped, second.next) == (1, None)
    assert first.then(second).rewrapped == 4
    assert deks_under_older_keks(store, provider, "IT") == {}
    assert {r.kek_version for r in store.rows() if r.ring_id == "IT"} == {3}
    with pytest.raises(ValueError, match="at least 1"):
        rewrap_batch(store, provider, "IT", limit=0)


def test_keys_under_older_keks_are_counted_per_version_retired_ones_included(
    provider: LocalKeyProvider, store: InMemoryKeyStore
) -> None:
    populate(FieldVault(provider, store), 6)
    provider.rotate_kek("IT")
    late = FieldVault(provider, store)
    late.ensure_subject_key(Subject("IT", "late"))  # under v2
    provider.rotate_kek("IT")
    provider.retire_kek("IT", 2)  # behind retire_kek's back: that DEK is now lost

    assert deks_under_older_keks(store, provider, "IT", page_size=2) == {1: 4, 2: 1}
    assert deks_under_older_keks(store, provider, "GR", page_size=2) == {}


# -- subject key rotation ------------------------------------------------------------------------------


def test_subject_key_rotation_and_reencryption(
    vault: FieldVault, store: InMemoryKeyStore, alice: Subject
) -> None:
    old = vault.encrypt(alice, "t", "c", "r", "before")
    assert old is not None
    assert not vault.needs_reencryption(alice, old)
    assert vault.rotate_subject_key(alice) == 2
    assert vault.needs_reencryption(alice, old)
    assert vault.decrypt(alice, "t", "c", "r", old) == "before"  # old version still reads
    new = vault.encrypt(alice, "t", "c", "r", "before")
    assert new is not None
    assert new[2:6] == (2).to_bytes(4, "big")
    assert not vault.needs_reencryption(alice, new)
    # destroying the old version leaves the re-encrypted field readable
    report = shred_subject(store, alice, cache=vault.cache, dek_version=1)
    assert report.destroyed_dek_versions == (1,)
    with pytest.raises(DecryptionError):
        vault.decrypt(alice, "t", "c", "r", old)
    assert vault.decrypt(alice, "t", "c", "r", new) == "before"


# -- shredding -----------------------------------------------------------------------------------------


def test_shredding_makes_every_field_of_the_subject_undecryptable(vault: FieldVault) -> None:
    db = populate(vault)
    victim = Subject("IT", "subject-001")
    assert vault.rotate_subject_key(victim) == 2
    db[(victim, "sightings", "family_name", "row-1")] = vault.encrypt(
        victim, "sightings", "family_name", "row-1", "family_name of 1"
    )
    # When the subject is shredded
    report = vault.shred(victim)
    # Then the report names what was destroyed
    assert report.subject == victim
    assert report.destroyed_dek_versions == (1, 2)
    assert not report.already_destroyed
    # And every field of that subject fails, in this process (cache evicted at once)
    for (subject, table, column, row_id), token in db.items():
        if subject == victim:
            with pytest.raises(DecryptionError):
                vault.decrypt(subject, table, column, row_id, token)
    # While every other subject is unaffected
    assert_all_decrypt(vault, {k: v for k, v in db.items() if k[0] != victim})
    # And nothing new can be encrypted for it
    with pytest.raises(SubjectErasedError):
        vault.encrypt(victim, "sightings", "contact", "row-1", "new")
    with pytest.raises(SubjectErasedError):
        vault.rotate_subject_key(victim)
    # Shredding again reports nothing new
    assert vault.shred(victim).already_destroyed


def test_other_process_stops_decrypting_within_the_cache_ttl(
    make_vault: Callable[[], FieldVault], clock: FakeClock, alice: Subject
) -> None:
    worker_a, worker_b = make_vault(), make_vault()
    token = worker_a.encrypt(alice, "t", "c", "r", "secret")
    assert worker_b.decrypt(alice, "t", "c", "r", token) == "secret"  # b caches the DEK
    clock.advance(10)
    worker_a.shred(alice)
    with pytest.raises(DecryptionError):
        worker_a.decrypt(alice, "t", "c", "r", token)
    # b still holds the key until its entry expires (the documented bound) ...
    assert worker_b.decrypt(alice, "t", "c", "r", token) == "secret"
    clock.advance(50)  # 60 s after b unwrapped it
    # ... and never after
    with pytest.raises(DecryptionError):
        worker_b.decrypt(alice, "t", "c", "r", token)


def test_a_second_process_reuses_the_existing_key(
    make_vault: Callable[[], FieldVault], alice: Subject, store: InMemoryKeyStore
) -> None:
    a, b = make_vault(), make_vault()
    # b starts with an empty cache: it must find and reuse the key a created, not make its own
    token_a = a.encrypt(alice, "t", "c", "r", "x")
    token_b = b.encrypt(alice, "t", "c", "r", "y")
    assert a.decrypt(alice, "t", "c", "r", token_b) == "y"
    assert b.decrypt(alice, "t", "c", "r", token_a) == "x"
    assert len(store.rows()) == 1


class CountingStore(InMemoryKeyStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def store(self, record: WrappedDek, *, replaces: WrappedDek | None = None) -> bool:
        self.calls.append("store")
        return super().store(record, replaces=replaces)

    def load(self, ring_id: str, subject_id: str, dek_version: int | None = None) -> WrappedDek | None:
        self.calls.append("load")
        return super().load(ring_id, subject_id, dek_version)


def test_a_new_subjects_key_is_stored_without_a_lookup_and_used_at_once(
    provider: LocalKeyProvider, alice: Subject
) -> None:
    store = CountingStore()
    vault = FieldVault(provider, store)

    version = vault.ensure_subject_key(alice)
    token = vault.encrypt(alice, "t", "c", "r", "x")

    assert version == 1
    assert store.calls == ["store"]
    assert FieldVault(provider, store).decrypt(alice, "t", "c", "r", token) == "x"


def test_a_subject_with_a_key_keeps_it_and_an_erased_one_gets_none(
    make_vault: Callable[[], FieldVault], alice: Subject, store: InMemoryKeyStore
) -> None:
    first, second = make_vault(), make_vault()
    token = first.encrypt(alice, "t", "c", "r", "x")
    first.rotate_subject_key(alice)
    bob = Subject(alice.ring_id, "bob")
    first.ensure_subject_key(bob)
    first.shred(bob)

    assert second.ensure_subject_key(alice) == 2  # its current key, another process's cache empty
    assert second.decrypt(alice, "t", "c", "r", token) == "x"
    with pytest.raises(SubjectErasedError):
        second.ensure_subject_key(bob)
    assert len(store.rows()) == 3


def test_only_subjects_whose_key_for_a_token_is_not_unwrapped_are_left_to_read(
    make_vault: Callable[[], FieldVault], alice: Subject
) -> None:
    writer, reader = make_vault(), make_vault()
    bob = Subject(alice.ring_id, "bob")
    alices, bobs = writer.encrypt(alice, "t", "c", "r", "a"), writer.encrypt(bob, "t", "c", "r", "b")
    reader.decrypt(alice, "t", "c", "r", alices)  # unwrapped by this process
    writer.rotate_subject_key(alice)
    newer = writer.encrypt(alice, "t", "c", "r", "a")  # under a version this process never unwrapped

    wanted = [(alice, alices), (bob, bobs), (alice, newer), (bob, None), (bob, b"not a token")]

    assert reader.uncached(wanted) == [bob, alice]


class RacingStore(InMemoryKeyStore):
    """Another process inserts the subject's key between our load and our insert."""

    def __init__(self, other: Callable[[], None]) -> None:
        super().__init__()
        self.other: Callable[[], None] | None = other

    def store(self, record: WrappedDek, *, replaces: WrappedDek | None = None) -> bool:
        if self.other is not None:
            other, self.other = self.other, None
            other()
        return super().store(record, replaces=replaces)


def test_insert_race_reuses_the_winners_key(provider: LocalKeyProvider, alice: Subject) -> None:
    winner_tokens: list[bytes | None] = []
    store = RacingStore(
        lambda: winner_tokens.append(FieldVault(provider, store).encrypt(alice, "t", "c", "r", "w"))
    )
    loser = FieldVault(provider, store)
    token = loser.encrypt(alice, "t", "c", "r", "l")
    assert len(store.rows()) == 1
    assert loser.decrypt(alice, "t", "c", "r", winner_tokens[0]) == "w"
    assert FieldVault(provider, store).decrypt(alice, "t", "c", "r", token) == "l"


# -- cache ---------------------------------------------------------------------------------------------


def test_cache_is_bounded_lru() -> None:
    cache = KeyCache(max_subjects=2, ttl_seconds=60, clock=FakeClock())
    cache.put("IT", "a", 1, b"a" * 32)
    cache.put("IT", "b", 1, b"b" * 32)
    assert cache.get("IT", "a", 1) is not None  # a is now the most recent
    cache.put("IT", "c", 1, b"c" * 32)
    assert len(cache) == 2
    assert cache.get("IT", "b", 1) is None
    assert cache.get("IT", "a", 1) is not None
    assert cache.get("IT", "c", 1) is not None


def test_cache_entries_expire() -> None:
    clock = FakeClock()
    cache = KeyCache(ttl_seconds=5, clock=clock)
    cache.put("IT", "a", 1, b"a" * 32)
    cache.set_current_version("IT", "a", 1)
    clock.advance(4.9)
    assert cache.get("IT", "a", 1) is not None
    assert cache.current_version("IT", "a") == 1
    clock.advance(0.2)
    assert cache.get("IT", "a", 1) is None
    assert cache.current_version("IT", "a") is None


def test_cache_eviction_is_per_subject() -> None:
    cache = KeyCache(clock=FakeClock())
    cache.put("IT", "a", 1, b"a" * 32)
    cache.put("IT", "a", 2, b"A" * 32)
    cache.put("IT", "b", 1, b"b" * 32)
    cache.put("GR", "a", 1, b"g" * 32)
    cache.evict_subject("IT", "a")
    assert cache.get("IT", "a", 1) is None
    assert cache.get("IT", "a", 2) is None
    assert cache.get("IT", "b", 1) is not None
    assert cache.get("GR", "a", 1) is not None


def test_cache_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="positive"):
        KeyCache(max_subjects=0)
    with pytest.raises(ValueError, match="positive"):
        KeyCache(ttl_seconds=0)


def test_store_refusing_without_a_row_is_an_error(provider: LocalKeyProvider, alice: Subject) -> None:
    class RefusingStore(InMemoryKeyStore):
        def store(self, record: WrappedDek, *, replaces: WrappedDek | None = None) -> bool:
            return False

    with pytest.raises(PrivacyError):
        FieldVault(provider, RefusingStore()).encrypt(alice, "t", "c", "r", "x")
