"""The application's key provider follows the key file that other processes change."""

from __future__ import annotations

from pathlib import Path

from privacy import create_key_file
from rfl.keys import ReloadingKeyProvider


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
