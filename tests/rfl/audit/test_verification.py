"""Verification in one linear pass, read-only, and through the API in bounded, resumable steps."""

from __future__ import annotations

import base64
import os
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

import privacy.merkle
from privacy import sign_note, tree_root
from rfl import create_app, migrate
from rfl.accounts.models import Role
from rfl.audit import verification
from rfl.audit.models import AuditVerification
from rfl.cli import main
from rfl.db import db
from rfl.extensions import app_services
from rfl.settings import Settings
from tests.conftest import Factories, FakeClock, make_settings
from tests.rfl.audit.conftest import fill_log, sign_checkpoint, stored_leaves, verify

# --- one pass -------------------------------------------------------------------------------------


@pytest.fixture
def node_hashes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the Merkle node hashes computed (the work of recomputing trees)."""
    count = [0]
    real = privacy.merkle.node_hash

    def counting(left: bytes, right: bytes) -> bytes:
        count[0] += 1
        return real(left, right)

    monkeypatch.setattr(privacy.merkle, "node_hash", counting)
    return count


def test_verification_hashes_each_node_once_however_many_checkpoints(
    app: Flask, node_hashes: list[int]
) -> None:
    for _ in range(30):  # 1500 entries, a stored checkpoint every 50 (and the periodic ones)
        fill_log(app, 50)
        sign_checkpoint(app)
    entries = len(stored_leaves(app))
    node_hashes[0] = 0

    result = verify(app)

    assert result.ok, result.problems
    # A tree of n leaves has n - 1 nodes; comparing with 30 checkpoints adds a few root foldings each.
    # Recomputing the tree for every checkpoint (the former way) costs about 30 times n.
    assert node_hashes[0] < 2 * entries


def test_entries_are_read_in_batches(
    app: Flask, monkeypatch: pytest.MonkeyPatch, tamper: Callable[..., None]
) -> None:
    monkeypatch.setattr(verification, "READ_BATCH", 7)
    monkeypatch.setattr(verification, "CHECKPOINT_BATCH", 2)
    for _ in range(6):
        fill_log(app, 9)
        sign_checkpoint(app)
    assert verify(app).ok
    tamper("UPDATE audit_events SET action = 'record.update' WHERE seq = 33")

    result = verify(app)

    assert result.problems[0].startswith("entry 33 ")
    # Every checkpoint from 36 on was signed over the original entry 33.
    assert [p.split(":")[0] for p in result.problems[1:]] == [
        f"stored checkpoint of size {size}" for size in (36, 45, 54)
    ]


def test_problems_are_capped(app: Flask, tamper: Callable[..., None]) -> None:
    for _ in range(verification.MAX_PROBLEMS + 5):
        fill_log(app, 2)
        sign_checkpoint(app)
    tamper("UPDATE audit_events SET action = 'record.update' WHERE seq = 0")

    result = verify(app)

    # The first entry, then every one of the MAX_PROBLEMS + 5 checkpoints: 6 beyond the cap.
    assert len(result.problems) == verification.MAX_PROBLEMS + 1
    assert result.problems[-1] == "... and 6 more problems"


sqlite_only = pytest.mark.skipif(
    bool(os.environ.get("RFL_TEST_DATABASE_URL")), reason="PostgreSQL's column types refuse such values"
)


@sqlite_only
@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("occurred_at", "yesterday"),
        ("id", "not an id"),
        ("fields", "[not json"),
        ("owner_society_id", "x" * 40),
    ],
)
def test_a_value_no_column_type_can_read_is_an_altered_entry(
    app: Flask, tamper: Callable[..., None], column: str, value: str
) -> None:
    fill_log(app, 5)
    tamper(f"UPDATE audit_events SET {column} = :value WHERE seq = 2", value=value)  # noqa: S608 (test constant)

    result = verify(app)

    assert result.problems == ["entry 2: altered; its content can no longer be read"]


@sqlite_only
def test_ids_read_as_the_orm_reads_them(app: Flask, tamper: Callable[..., None]) -> None:
    fill_log(app, 3, owner=uuid.uuid4())
    # Another spelling of the same ids: the ORM reads the same UUIDs, so the content is unchanged.
    tamper("UPDATE audit_events SET id = upper(id), owner_society_id = upper(owner_society_id)")

    assert verify(app).ok


def test_a_long_verification_keeps_no_writer_waiting(throwaway_database_url: str, tmp_path: Path) -> None:
    """The read-only transaction holds no write lock (SQLite), is READ ONLY (PostgreSQL) and reads one
    snapshot (REPEATABLE READ on PostgreSQL)."""
    migrate.upgrade(throwaway_database_url)
    app = create_app(make_settings(throwaway_database_url, tmp_path))
    fill_log(app, 20)
    written = threading.Event()

    def writer() -> None:
        fill_log(app, 1)
        written.set()

    with app.app_context(), db.transaction(read_only=True) as session:
        before = verification.verify_log(
            session, app_services(app).audit_signer.verifier(), origin="x", now=_now(app)
        )
        thread = threading.Thread(target=writer)
        thread.start()
        committed_meanwhile = written.wait(timeout=10)  # generous: it commits at once unless blocked
        thread.join()
        # One snapshot: every query of the pass sees the log as it was when the pass began.
        after = verification.verify_log(
            session, app_services(app).audit_signer.verifier(), origin="x", now=_now(app)
        )
        # PostgreSQL refuses it as READ ONLY; SQLite because the snapshot is older than the commit.
        with pytest.raises(sa.exc.DBAPIError):
            session.execute(sa.text("DELETE FROM throttle_hits"))

    assert committed_meanwhile
    assert before.size == after.size == after.log_size == 20
    assert len(stored_leaves(app)) == 21
    db.engine_of(app).dispose()


def _now(app: Flask) -> Any:
    return app_services(app).clock()


# --- the CLI --------------------------------------------------------------------------------------


def test_the_cli_verifies_then_records_its_run_and_an_audit_entry(app: Flask) -> None:
    fill_log(app, 5)

    result = app.test_cli_runner().invoke(main, ["audit", "verify"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: 5 entries")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditVerification)) == 1
    assert len(stored_leaves(app)) == 6  # its audit.verify entry, appended after the read


# --- the API: bounded steps -----------------------------------------------------------------------

STEP = 10


@pytest.fixture
def settings(database_url: str, session_instance_dir: Path) -> Settings:
    return make_settings(database_url, session_instance_dir, audit_verify_step=STEP)


def verify_step(
    client: FlaskClient, headers: dict[str, str], clock: FakeClock, query: str = ""
) -> dict[str, Any]:
    clock.advance(timedelta(seconds=1))
    answer = client.get(f"/api/v1/audit/verify{query}", headers=headers)
    assert answer.status_code == 200, answer.json
    body: dict[str, Any] = answer.json
    return body


def test_each_request_verifies_a_bounded_step_and_the_next_continues(
    app: Flask, client: FlaskClient, make: Factories, clock: FakeClock
) -> None:
    headers = make.actor_headers(Role.AUDITOR)
    fill_log(app, 25)
    start = len(stored_leaves(app)) - 25

    steps = [verify_step(client, headers, clock) for _ in range(4)]

    # Each request appends its own audit.verify entry, verified by the next one.
    assert [(s["size"], s["complete"]) for s in steps] == [
        (start + 10, False),
        (start + 20, False),
        (start + 27, True),
        (start + 28, True),
    ]
    assert all(s["ok"] for s in steps)
    assert len({s["started_at"] for s in steps}) == 1
    assert steps[-1]["root"] == _b64(tree_root(stored_leaves(app)[: start + 28]))
    assert steps[-1]["log_size"] == start + 28


def test_restart_begins_a_new_run_from_entry_zero(
    app: Flask, client: FlaskClient, make: Factories, clock: FakeClock
) -> None:
    headers = make.actor_headers(Role.AUDITOR)
    fill_log(app, 25)
    first = verify_step(client, headers, clock)

    restarted = verify_step(client, headers, clock, "?restart=true")

    assert restarted["size"] == STEP
    assert restarted["started_at"] > first["started_at"]


def test_a_step_names_the_first_bad_entry_and_the_run_stays_failed(
    app: Flask, client: FlaskClient, make: Factories, clock: FakeClock, tamper: Callable[..., None]
) -> None:
    headers = make.actor_headers(Role.AUDITOR)
    fill_log(app, 25)
    bad = len(stored_leaves(app)) - 3
    tamper("UPDATE audit_events SET object_id = 'other' WHERE seq = :seq", seq=bad)

    steps = [verify_step(client, headers, clock) for _ in range(4)]

    assert [s["ok"] for s in steps] == [True, True, False, False]
    assert steps[2]["problems"] == steps[3]["problems"]
    assert steps[2]["problems"][0].startswith(f"entry {bad} ")


def test_the_api_continues_the_run_the_cli_recorded(
    app: Flask, client: FlaskClient, make: Factories, clock: FakeClock
) -> None:
    headers = make.actor_headers(Role.AUDITOR)
    fill_log(app, 40)
    cli = app.test_cli_runner().invoke(main, ["audit", "verify"])
    verified_by_cli = int(cli.output.split()[1])

    step = verify_step(client, headers, clock)

    assert step["size"] == verified_by_cli + 1  # only the CLI's own audit.verify entry was new
    assert step["complete"]
    assert step["ok"]


FORGERIES = ["bad signature", "copied to a later time", "not a record"]


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_progress_record_is_reported_and_not_continued_from(
    app: Flask, client: FlaskClient, make: Factories, tamper: Callable[..., None], forgery: str
) -> None:
    clock: FakeClock = make.clock
    headers = make.actor_headers(Role.AUDITOR)
    fill_log(app, 25)
    first = verify_step(client, headers, clock)
    with app.app_context():
        genuine = db.session.scalars(sa.select(AuditVerification)).one()
    note = {
        "bad signature": genuine.note.replace('"size":', '"size":1', 1),
        "copied to a later time": genuine.note,
        "not a record": sign_note_as_service(app, "rfl/test-audit-log\n999999\nAAAA\n"),
    }[forgery]
    clock.advance(timedelta(minutes=5))
    tamper(
        "INSERT INTO audit_verifications (id, recorded_at, note) VALUES (:id, :at, :note)",
        id=genuine.id.__class__(int=genuine.id.int ^ 1),
        at=clock.now,
        note=note,
    )

    step = verify_step(client, headers, clock)

    assert step["size"] == first["size"] + STEP  # continued from the genuine record
    assert not step["ok"]
    assert step["problems"][0].startswith("stored verification record ")


def sign_note_as_service(app: Flask, text: str) -> str:
    return sign_note(text, app_services(app).audit_signer)


def test_the_verify_endpoint_documents_its_bound(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").json

    description = spec["paths"]["/api/v1/audit/verify"]["get"]["description"]

    assert "RFL_AUDIT_VERIFY_STEP" in description
    assert "restart" in description


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()
