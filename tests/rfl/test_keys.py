"""The application's key provider follows the key file that other processes change, and changes it
without losing theirs."""

from __future__ import annotations

import secrets
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

import rfl.keys
from privacy import LocalKeyProvider, Subject, create_key_file, load_key_file
from privacy.keys import wrap_aad
from privacy.vault import wrap_under_active_kek
from rfl.keys import ReloadingKeyProvider, ensure_key_files
from tests.processes import WAIT_SECONDS, run_at_once


def test_a_rotation_by_another_process_is_followed(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path, ["ring"])
    server = ReloadingKeyProvider(path, check_interval=0)
    cli = ReloadingKeyProvider(path, check_interval=0)
    before = server.active_kek_version("ring")

    cli.rotate_kek("ring")

    assert server.active_kek_version("ring") == before + 1


def test_a_ring_added_by_another_process_is_found(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path)
    server = ReloadingKeyProvider(path)  # the default interval: unknown rings still reload at once
    ReloadingKeyProvider(path).add_ring("new-society")

    assert server.active_kek_version("new-society") >= 1


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_process_wraps_under_the_new_kek_at_most_one_check_interval_after_a_rotation(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path, ["ring"])
    clock = FakeMonotonic()
    server = ReloadingKeyProvider(path, check_interval=1.0, monotonic=clock)
    aad = wrap_aad("ring", "s", 1, 1)

    ReloadingKeyProvider(path).rotate_kek("ring")  # another process
    within, wrapped = server.wrap_dek("ring", b"k" * 32, aad)
    clock.now += 1.0
    after = server.active_kek_version("ring")

    # Within the interval the server may still wrap under the old KEK (the rotation's sweep moves
    # such keys); it still unwraps, and once the interval has passed the server uses the new KEK.
    assert within == 1
    assert server.unwrap_dek("ring", 1, wrapped, aad) == b"k" * 32
    assert after == 2


def wrap_new_key(provider: ReloadingKeyProvider) -> tuple[int, bytes, bytes]:
    """Wrap a new IT data key the way the application does (the KEK version may change meanwhile)."""
    dek = secrets.token_bytes(32)
    version, wrapped = wrap_under_active_kek(provider, Subject("IT", "s"), 1, dek)
    return version, wrapped, dek


def rotate_and_wrap(path: str, count: int, start: Barrier) -> list[tuple[int, bytes, bytes]]:
    provider = ReloadingKeyProvider(Path(path))
    start.wait(WAIT_SECONDS)
    wrapped = []
    for _ in range(count):
        provider.rotate_kek("IT")
        wrapped.append(wrap_new_key(provider))
    return wrapped


def add_rings_and_serve(path: str, count: int, start: Barrier) -> list[tuple[int, bytes, bytes]]:
    """Create societies' rings; after each, wrap a new IT data key as a server does meanwhile."""
    provider = ReloadingKeyProvider(Path(path), check_interval=0)
    start.wait(WAIT_SECONDS)
    wrapped = []
    for i in range(count):
        provider.add_ring(f"society-{i}")
        wrapped.append(wrap_new_key(provider))
    return wrapped


def test_rotations_beside_new_rings_in_other_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path, ["IT"])
    count = 20

    rotated, served = run_at_once(
        [(rotate_and_wrap, (str(path), count)), (add_rings_and_serve, (str(path), count))]
    )

    final = load_key_file(path)
    assert set(final.ring_ids) == {"IT"} | {f"society-{i}" for i in range(count)}
    assert list(final.kek_versions("IT")) == list(range(1, count + 2))
    # the server followed the rotations (it never went back to an older KEK), and every key unwraps
    assert [version for version, _, _ in served] == sorted(version for version, _, _ in served)
    for version, blob, dek in rotated + served:
        assert final.unwrap_dek("IT", version, blob, wrap_aad("IT", "s", 1, version)) == dek


def test_a_key_file_another_worker_created_meanwhile_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two workers starting at once on a new instance: the other one creates the key file
    # between this one's check that it is missing and its own attempt to create it
    key_file = tmp_path / "keys.json"
    real_create = create_key_file

    def created_by_the_other_worker_first(path: Path) -> LocalKeyProvider:
        real_create(path, ["the-winners-ring"])
        return real_create(path)

    monkeypatch.setattr(rfl.keys, "create_key_file", created_by_the_other_worker_first)

    ensure_key_files(key_file, tmp_path / "audit-signing-key.json", "rfl/test")

    # Then this worker starts too, on the winner's key file
    assert load_key_file(key_file).ring_ids == ("the-winners-ring",)
