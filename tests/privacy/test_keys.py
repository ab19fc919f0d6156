"""Key file, key provider and wrapped data keys."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from privacy import (
    DecryptionError,
    FieldVault,
    KekState,
    KeyConfigurationError,
    KeyProvider,
    LocalKeyProvider,
    Subject,
    create_key_file,
    load_key_file,
)
from privacy.keys import wrap_aad
from privacy.testing import InMemoryKeyStore


def test_local_provider_implements_the_protocol(provider: LocalKeyProvider) -> None:
    assert isinstance(provider, KeyProvider)


def test_key_file_is_created_private_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    created = create_key_file(path, ["IT", "ICRC-CTA"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_key_file(path)
    assert loaded.ring_ids == ("ICRC-CTA", "IT")
    # the same keys: what one wraps, the other unwraps
    aad = wrap_aad("IT", "s", 1, 1)
    version, wrapped = created.wrap_dek("IT", b"k" * 32, aad)
    assert loaded.unwrap_dek("IT", version, wrapped, aad) == b"k" * 32
    assert loaded.index_key("IT", 1) == created.index_key("IT", 1)


def test_key_file_format(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path, ["IT"])
    doc = json.loads(path.read_text())
    assert doc["format"] == "rfl-privacy-keys"
    assert doc["version"] == 1
    ring = doc["rings"]["IT"]
    assert ring["active_kek"] == 1
    assert set(ring["keks"]["1"]) == {"key", "created_at", "retired_at"}
    assert ring["active_index_key"] == 1
    assert ring["keks"]["1"]["key"] != ring["index_keys"]["1"]  # separate keys
    assert "signing" not in path.read_text()  # the checkpoint key lives elsewhere


def test_key_file_is_never_overwritten_by_create(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path, ["IT"])
    with pytest.raises(FileExistsError):
        create_key_file(path, ["IT"])


def test_load_refuses_a_file_others_can_read(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path, ["IT"])
    os.chmod(path, 0o644)
    with pytest.raises(KeyConfigurationError):
        load_key_file(path)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "{}",
        '{"format": "rfl-privacy-keys", "version": 2, "rings": {}}',
        '{"format": "rfl-privacy-keys", "version": 1, "rings": {"IT": {"active_kek": 1}}}',
        '{"format": "rfl-privacy-keys", "version": 1, "rings": {"IT": {"active_kek": 1, "keks": {"1": '
        '{"key": "c2hvcnQ=", "created_at": "x", "retired_at": null}}, '
        '"active_index_key": 1, "index_keys": {}}}}',
    ],
)
def test_malformed_key_files_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyConfigurationError):
        load_key_file(path)


def test_mutations_are_saved_atomically_and_privately(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    provider = create_key_file(path, ["IT"])
    assert provider.rotate_kek("IT") == 2
    provider.add_ring("GR")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reloaded = load_key_file(path)
    assert reloaded.active_kek_version("IT") == 2
    assert reloaded.kek_versions("IT") == {1: KekState.DECRYPT_ONLY, 2: KekState.ACTIVE}
    assert "GR" in reloaded.ring_ids
    # no temporary file left behind; the lock file stays (removing it would race with its next user)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.json", "keys.json.lock"]
    assert stat.S_IMODE((tmp_path / "keys.json.lock").stat().st_mode) == 0o600


def test_a_change_through_a_stale_provider_keeps_what_another_process_wrote(tmp_path: Path) -> None:
    # Given two processes that loaded the same key file
    path = tmp_path / "keys.json"
    first = create_key_file(path, ["IT"])
    second = load_key_file(path)
    # When one rotates IT and then the other, which never reloaded, adds a ring
    first.rotate_kek("IT")
    second.add_ring("GR")
    # Then the file has both changes, and the second process now holds them too
    final = load_key_file(path)
    assert final.kek_versions("IT") == {1: KekState.DECRYPT_ONLY, 2: KekState.ACTIVE}
    assert final.ring_ids == ("GR", "IT")
    assert second.active_kek_version("IT") == 2
    # And a refused change leaves the file and the provider as they were
    before = path.read_bytes()
    with pytest.raises(KeyConfigurationError):
        second.add_ring("IT")
    with pytest.raises(KeyConfigurationError):
        second.retire_kek("IT", 2)
    assert path.read_bytes() == before
    assert second.ring_ids == ("GR", "IT")
    assert second.active_kek_version("IT") == 2


def test_a_provider_knows_when_the_file_changed_and_reloads_it(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    mine = create_key_file(path, ["IT"])
    assert not mine.changed_on_disk()

    load_key_file(path).rotate_kek("IT")  # another process

    assert mine.changed_on_disk()
    assert mine.active_kek_version("IT") == 1
    mine.reload()
    assert not mine.changed_on_disk()
    assert mine.active_kek_version("IT") == 2


def test_a_key_file_that_became_readable_by_others_is_refused_for_changes_too(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    provider = create_key_file(path, ["IT"])
    os.chmod(path, 0o644)
    with pytest.raises(KeyConfigurationError):
        provider.rotate_kek("IT")
    assert provider.active_kek_version("IT") == 1


def test_unknown_ring_is_a_configuration_error(provider: LocalKeyProvider) -> None:
    with pytest.raises(KeyConfigurationError):
        provider.active_kek_version("XX")


def test_wrapped_dek_is_bound_to_its_subject(
    vault: FieldVault, store: InMemoryKeyStore, provider: LocalKeyProvider
) -> None:
    # Given two subjects with keys
    vault.ensure_subject_key(Subject("IT", "a"))
    vault.ensure_subject_key(Subject("IT", "b"))
    a = store.load("IT", "a")
    assert a is not None
    # When a's wrapped key is presented as b's
    with pytest.raises(DecryptionError):
        provider.unwrap_dek("IT", a.kek_version, a.wrapped, wrap_aad("IT", "b", a.dek_version, a.kek_version))
    # Or as another ring's, or with another DEK or KEK version
    with pytest.raises(DecryptionError):
        provider.unwrap_dek("IT", a.kek_version, a.wrapped, wrap_aad("GR", "a", a.dek_version, a.kek_version))
    with pytest.raises(DecryptionError):
        provider.unwrap_dek(
            "IT", a.kek_version, a.wrapped, wrap_aad("IT", "a", a.dek_version + 1, a.kek_version)
        )
    # Then it does not unwrap, while the honest call does
    assert len(provider.unwrap_dek("IT", 1, a.wrapped, wrap_aad("IT", "a", 1, 1))) == 32


def test_rings_do_not_share_keks(provider: LocalKeyProvider) -> None:
    aad = wrap_aad("IT", "s", 1, 1)
    _, wrapped = provider.wrap_dek("IT", b"k" * 32, aad)
    with pytest.raises(DecryptionError):
        provider.unwrap_dek("GR", 1, wrapped, aad)


def test_unknown_kek_version_fails_opaquely(provider: LocalKeyProvider) -> None:
    aad = wrap_aad("IT", "s", 1, 1)
    _, wrapped = provider.wrap_dek("IT", b"k" * 32, aad)
    with pytest.raises(DecryptionError):
        provider.unwrap_dek("IT", 9, wrapped, aad)
    with pytest.raises(DecryptionError):
        provider.unwrap_dek("IT", 1, wrapped[:-1], aad)
