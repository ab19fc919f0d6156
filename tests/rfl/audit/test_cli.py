"""`rfl audit checkpoint` exports what `rfl audit verify --against` later holds the log to."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask

from rfl.cli import main
from tests.rfl.audit.conftest import fill_log


def invoke(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(main, ["audit", *args])


def test_exported_checkpoint_catches_removal_of_the_newest_entries(
    app: Flask, tamper: Callable[..., None], tmp_path: Path
) -> None:
    fill_log(app, 5)
    exported = invoke(app, "checkpoint")
    checkpoint_file = tmp_path / "checkpoint.txt"
    checkpoint_file.write_text(exported.output)
    fill_log(app, 2)

    honest = invoke(app, "verify", "--against", str(checkpoint_file))
    tamper("DELETE FROM audit_events WHERE seq >= 3")
    tamper("DELETE FROM audit_checkpoints")
    without = invoke(app, "verify")
    against = invoke(app, "verify", "--against", str(checkpoint_file))

    assert exported.exit_code == 0
    assert exported.output.startswith("rfl/test-audit-log\n5\n")
    assert honest.exit_code == 0, honest.output
    assert without.exit_code == 0
    assert against.exit_code == 1
    assert "entries removed" in against.output


def test_verify_names_the_first_altered_entry(app: Flask, tamper: Callable[..., None]) -> None:
    fill_log(app, 4)
    tamper("UPDATE audit_events SET object_id = 'other' WHERE seq = 2")

    result = invoke(app, "verify")

    assert result.exit_code == 1
    assert "entry 2 " in result.output


def test_verify_with_the_published_key(app: Flask) -> None:
    fill_log(app, 2)
    vkey = invoke(app, "public-key").output.strip()

    assert invoke(app, "verify", "--key", vkey).exit_code == 0
    assert invoke(app, "verify", "--key", "not a key").exit_code == 2
