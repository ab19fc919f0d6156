"""Several processes change one key file at once: no KEK and no ring is ever lost, readers see whole files.

Each worker is a real process (``spawn``) holding a provider it loaded before the others started
changing the file, like a long-running server or a CLI command. A barrier starts them together; no
sleeps. Every DEK a worker wrapped must still unwrap with the key file that is left at the end.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path

from privacy import KekState, LocalKeyProvider, create_key_file, load_key_file
from privacy.keys import wrap_aad
from tests.processes import WAIT_SECONDS, run_at_once


@dataclass(frozen=True)
class WrappedByWorker:
    """A DEK a worker wrapped and the test must be able to unwrap afterwards."""

    ring_id: str
    subject_id: str
    kek_version: int
    wrapped: bytes
    dek: bytes


def _wrap_one(provider: LocalKeyProvider, ring_id: str, subject_id: str) -> WrappedByWorker:
    dek = secrets.token_bytes(32)
    version = provider.active_kek_version(ring_id)
    wrapped_under, wrapped = provider.wrap_dek(ring_id, dek, wrap_aad(ring_id, subject_id, 1, version))
    assert wrapped_under == version
    return WrappedByWorker(ring_id, subject_id, version, wrapped, dek)


def rotate_and_wrap(path: str, ring_id: str, count: int, start: Barrier) -> list[WrappedByWorker]:
    """Rotate ``count`` times; after each rotation wrap a DEK under the new KEK (as a rewrap does)."""
    provider = load_key_file(path)
    start.wait(WAIT_SECONDS)
    out = []
    for i in range(count):
        provider.rotate_kek(ring_id)
        out.append(_wrap_one(provider, ring_id, f"rotated-{secrets.token_hex(4)}-{i}"))
    return out


def add_rings_and_wrap(path: str, prefix: str, count: int, start: Barrier) -> list[WrappedByWorker]:
    """Add ``count`` rings (what creating a society does) and wrap a DEK in each."""
    provider = load_key_file(path)
    start.wait(WAIT_SECONDS)
    out = []
    for i in range(count):
        ring_id = f"{prefix}-{i}"
        provider.add_ring(ring_id)
        out.append(_wrap_one(provider, ring_id, "first-subject"))
    return out


def reload_repeatedly(path: str, ring_id: str, count: int, start: Barrier) -> list[int]:
    """Load the file ``count`` times while others write it; the active KEK versions seen, in order."""
    start.wait(WAIT_SECONDS)
    # load_key_file raises on a torn or half-written file
    return [load_key_file(path).active_kek_version(ring_id) for _ in range(count)]


def assert_every_dek_unwraps(provider: LocalKeyProvider, wrapped: list[WrappedByWorker]) -> None:
    for item in wrapped:
        aad = wrap_aad(item.ring_id, item.subject_id, 1, item.kek_version)
        assert provider.unwrap_dek(item.ring_id, item.kek_version, item.wrapped, aad) == item.dek


def test_rotations_beside_new_rings_lose_no_kek_and_no_ring(tmp_path: Path) -> None:
    # Given a key file and two processes that loaded it: one rotates, one adds rings
    path = tmp_path / "keys.json"
    create_key_file(path, ["IT"])
    rotations, new_rings = 15, 15

    # When both change the file at the same time
    rotated, added = run_at_once(
        [(rotate_and_wrap, (str(path), "IT", rotations)), (add_rings_and_wrap, (str(path), "new", new_rings))]
    )

    # Then every ring and every KEK version is in the file, and every data key unwraps
    final = load_key_file(path)
    assert set(final.ring_ids) == {"IT"} | {f"new-{i}" for i in range(new_rings)}
    assert list(final.kek_versions("IT")) == list(range(1, rotations + 2))
    assert final.active_kek_version("IT") == rotations + 1
    assert_every_dek_unwraps(final, rotated + added)


def test_two_rotations_at_once_keep_both_versions_and_readers_see_whole_files(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path, ["IT"])
    rotations = 15

    first, second, seen = run_at_once(
        [
            (rotate_and_wrap, (str(path), "IT", rotations)),
            (rotate_and_wrap, (str(path), "IT", rotations)),
            (reload_repeatedly, (str(path), "IT", 200)),
        ]
    )

    final = load_key_file(path)
    states = final.kek_versions("IT")
    assert list(states) == list(range(1, 2 * rotations + 2))
    assert states[2 * rotations + 1] is KekState.ACTIVE
    # no two rotations produced the same version: each one's DEKs are under a version of its own
    assert {w.kek_version for w in first}.isdisjoint({w.kek_version for w in second})
    assert_every_dek_unwraps(final, first + second)
    # the reader only ever saw complete files, in the order they were written
    assert seen == sorted(seen)


def test_many_new_rings_at_once_are_all_kept(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    create_key_file(path)
    workers, rings_each = 4, 8

    added = run_at_once(
        [(add_rings_and_wrap, (str(path), f"society{w}", rings_each)) for w in range(workers)]
    )

    final = load_key_file(path)
    assert set(final.ring_ids) == {f"society{w}-{i}" for w in range(workers) for i in range(rings_each)}
    assert_every_dek_unwraps(final, [w for batch in added for w in batch])
