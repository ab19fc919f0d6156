"""`rfl keys rotate` rewraps a society's data keys without touching records; `retire` destroys old KEKs.

A rotation is audited before the key file changes, commits batch by batch, and ends only when a sweep
(after every process had time to reload the key file) leaves nothing under an older KEK version.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient

from privacy import FieldVault, KeyProvider, Subject, WrappedDek, load_key_file
from privacy.keys import wrap_aad
from rfl.accounts.models import Role, Society
from rfl.audit.models import AuditEvent
from rfl.cli import MAX_SWEEPS, main
from rfl.crypto.keystore import DatabaseKeyStore
from rfl.crypto.models import BlindIndexPlan, DataKey
from rfl.db import db
from rfl.extensions import app_services
from rfl.records.models import BlindIndexEntry, Sighting
from tests.conftest import Factories
from tests.rfl.records.conftest import SIGHTING


class SleepHooks(list[float]):
    """The delays the application asked for (recorded, not slept); ``during`` runs at each one, as
    if another process acted while the command waited."""

    def __init__(self) -> None:
        super().__init__()
        self.during: Callable[[], None] | None = None

    def append(self, seconds: float) -> None:
        super().append(seconds)
        if self.during is not None:
            self.during()


@pytest.fixture
def sleeps() -> SleepHooks:
    return SleepHooks()


def invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(main, ["keys", *args])


def key_audit(app: Flask, society: Society) -> list[tuple[str, str]]:
    """(action, outcome) of the society's key entries, in log order."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.outcome)
            .where(AuditEvent.owner_society_id == society.id, AuditEvent.action.startswith("keys."))
            .order_by(AuditEvent.seq)
        )
        return [(action, outcome) for action, outcome in rows]


def kek_versions_in_use(app: Flask, society: Society) -> dict[int, int]:
    """How many data keys of the society each KEK version wraps."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(DataKey.kek_version, sa.func.count())
            .where(DataKey.ring_id == str(society.id))
            .group_by(DataKey.kek_version)
        )
        return dict(rows.all())


def create_sightings(client: FlaskClient, headers: dict[str, str], count: int) -> list[str]:
    return [client.post("/api/v1/sightings", headers=headers, json=SIGHTING).json["id"] for _ in range(count)]


def wrap_late_key(app: Flask, stale: KeyProvider, society: Society) -> str:
    """What a process that has not reloaded the key file yet does: create a data key under its KEK."""
    subject_id = str(uuid.uuid4())
    with app.app_context(), db.transaction() as session:
        FieldVault(stale, DatabaseKeyStore(session)).ensure_subject_key(Subject(str(society.id), subject_id))
    return subject_id


def assert_every_key_unwraps(app: Flask, society: Society) -> None:
    provider = load_key_file(app_services(app).settings.key_file)
    with app.app_context():
        rows = db.session.scalars(sa.select(DataKey).where(DataKey.ring_id == str(society.id))).all()
        for row in rows:
            aad = wrap_aad(row.ring_id, row.subject_id, row.dek_version, row.kek_version)
            assert len(provider.unwrap_dek(row.ring_id, row.kek_version, row.wrapped, aad)) == 32


def test_rotation_rewraps_keys_and_records_stay_readable(
    app: Flask, client: FlaskClient, make: Factories
) -> None:
    society = make.society("IT")
    headers = make.actor_headers(Role.CASEWORKER, society)
    record_id = client.post("/api/v1/sightings", headers=headers, json=SIGHTING).json["id"]
    ciphertext_before = make.scalar(sa.select(Sighting.person_given_name))
    old_version = app_services(app).keys.active_kek_version(str(society.id))

    active_retire = invoke(app, "retire", "--society", "IT", "--version", str(old_version))
    rotated = invoke(app, "rotate", "--society", "IT")
    app_services(app).key_cache.clear()
    retired = invoke(app, "retire", "--society", "IT", "--version", str(old_version))

    assert active_retire.exit_code == 1
    assert rotated.exit_code == 0, rotated.output
    assert "1 data keys rewrapped in 1 batches, 0 failed" in rotated.output
    assert "rotation complete: no data key is left under an older KEK version" in rotated.output
    assert retired.exit_code == 0, retired.output
    assert kek_versions_in_use(app, society) == {old_version + 1: 1}
    assert make.scalar(sa.select(Sighting.person_given_name)) == ciphertext_before
    assert client.get(f"/api/v1/sightings/{record_id}", headers=headers).json["person"] == SIGHTING["person"]
    # every attempt is audited: its start before the key file changes, its outcome after
    assert key_audit(app, society) == [
        ("keys.retire_started", "ok"),
        ("keys.retire", "denied"),
        ("keys.rotate_started", "ok"),
        ("keys.rotate", "ok"),
        ("keys.retire_started", "ok"),
        ("keys.retire", "ok"),
    ]


def test_rotation_commits_in_batches(app: Flask, client: FlaskClient, make: Factories) -> None:
    society = make.society("IT")
    create_sightings(client, make.actor_headers(Role.CASEWORKER, society), 5)

    rotated = invoke(app, "rotate", "--society", "IT", "--batch-size", "2")

    assert rotated.exit_code == 0, rotated.output
    assert "5 data keys rewrapped in 3 batches, 0 failed" in rotated.output
    assert kek_versions_in_use(app, society) == {2: 5}


def test_a_killed_rotation_is_audited_from_its_start_and_resume_finishes_it(
    app: Flask, client: FlaskClient, make: Factories, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given five data keys, and a rotation that dies while rewrapping its second batch
    society = make.society("IT")
    headers = make.actor_headers(Role.CASEWORKER, society)
    record_ids = create_sightings(client, headers, 5)
    swap = DatabaseKeyStore.store
    swaps: list[WrappedDek] = []

    def dying_swap(
        store: DatabaseKeyStore, record: WrappedDek, *, replaces: WrappedDek | None = None
    ) -> bool:
        if replaces is not None:
            swaps.append(record)
            if len(swaps) == 3:
                raise RuntimeError("killed")
        return swap(store, record, replaces=replaces)

    monkeypatch.setattr(DatabaseKeyStore, "store", dying_swap)

    # When it runs, dies, and is resumed
    killed = invoke(app, "rotate", "--society", "IT", "--batch-size", "2")
    after_kill = kek_versions_in_use(app, society)
    audit_after_kill = key_audit(app, society)
    monkeypatch.setattr(DatabaseKeyStore, "store", swap)
    resumed = invoke(app, "rotate", "--society", "IT", "--resume", "--batch-size", "2")

    # Then the start was audited although the rotation never finished, its first batch was kept,
    assert isinstance(killed.exception, RuntimeError)
    assert audit_after_kill == [("keys.rotate_started", "ok")]
    assert after_kill == {1: 3, 2: 2}
    # and the resumed run added no version, finished the rewrap and audited its end
    assert resumed.exit_code == 0, resumed.output
    assert "rotation resumed; KEK v2 active" in resumed.output
    assert list(load_key_file(app_services(app).settings.key_file).kek_versions(str(society.id))) == [
        1,
        2,
    ]
    assert kek_versions_in_use(app, society) == {2: 5}
    assert key_audit(app, society) == [
        ("keys.rotate_started", "ok"),
        ("keys.rotate_resumed", "ok"),
        ("keys.rotate", "ok"),
    ]
    app_services(app).key_cache.clear()
    for record_id in record_ids:
        assert client.get(f"/api/v1/sightings/{record_id}", headers=headers).status_code == 200


def test_a_key_wrapped_under_the_old_version_during_the_rotation_is_swept(
    app: Flask, client: FlaskClient, make: Factories, sleeps: SleepHooks
) -> None:
    # Given a society with data, and a worker that loaded the key file before the rotation
    society = make.society("IT")
    create_sightings(client, make.actor_headers(Role.CASEWORKER, society), 3)
    stale = load_key_file(app_services(app).settings.key_file)
    late: list[str] = []

    def stale_worker_creates_a_key() -> None:
        if not late:
            late.append(wrap_late_key(app, stale, society))

    sleeps.during = stale_worker_creates_a_key

    # When the worker wraps a new data key under the old KEK after the first rewrap pass
    rotated = invoke(app, "rotate", "--society", "IT")

    # Then the rotation waited for every process to reload the key file, and its sweep moved that key
    assert rotated.exit_code == 0, rotated.output
    assert sleeps[0] == pytest.approx(app_services(app).keys.check_interval, abs=0.5)
    assert "3 data keys rewrapped in 1 batches" in rotated.output
    assert "sweep 1: 1 more data keys rewrapped" in rotated.output
    assert "rotation complete" in rotated.output
    assert kek_versions_in_use(app, society) == {2: 4}
    assert_every_key_unwraps(app, society)
    assert key_audit(app, society)[-1] == ("keys.rotate", "ok")


def test_a_rotation_that_cannot_finish_is_bounded_and_says_what_is_left(
    app: Flask, client: FlaskClient, make: Factories, sleeps: SleepHooks
) -> None:
    # Given a worker that never reloads the key file and keeps creating keys under the old KEK
    society = make.society("IT")
    create_sightings(client, make.actor_headers(Role.CASEWORKER, society), 2)
    stale = load_key_file(app_services(app).settings.key_file)

    def stale_worker_creates_a_key() -> None:
        wrap_late_key(app, stale, society)

    sleeps.during = stale_worker_creates_a_key

    rotated = invoke(app, "rotate", "--society", "IT")

    # Then the rotation gives up after its last sweep, says so and what is left, and audits the failure
    assert rotated.exit_code == 1
    assert f"sweep {MAX_SWEEPS}: 1 more data keys rewrapped" in rotated.output
    assert f"sweep {MAX_SWEEPS + 1}" not in rotated.output
    assert "rotation NOT complete" in rotated.output
    assert "(v1: 1)" in rotated.output
    assert "--resume" in rotated.output
    assert key_audit(app, society) == [("keys.rotate_started", "ok"), ("keys.rotate", "failed")]
    # and the old KEK cannot be retired while that key is under it
    refused = invoke(app, "retire", "--society", "IT", "--version", "1")
    assert refused.exit_code == 1
    assert "still wrapped under this KEK version" in refused.output
    assert key_audit(app, society)[-2:] == [("keys.retire_started", "ok"), ("keys.retire", "denied")]
    assert_every_key_unwraps(app, society)


def test_a_key_that_does_not_unwrap_is_named_and_blocks_completion(
    app: Flask, client: FlaskClient, make: Factories
) -> None:
    society = make.society("IT")
    create_sightings(client, make.actor_headers(Role.CASEWORKER, society), 2)
    with app.app_context(), db.transaction() as session:
        damaged = session.scalars(sa.select(DataKey).where(DataKey.ring_id == str(society.id))).first()
        assert damaged is not None
        damaged.wrapped = bytes(len(damaged.wrapped))
        damaged_subject = damaged.subject_id

    rotated = invoke(app, "rotate", "--society", "IT")

    assert rotated.exit_code == 1
    assert "1 data keys rewrapped in 1 batches, 1 failed" in rotated.output
    assert "sweep 1: 0 more data keys rewrapped" in rotated.output
    assert "sweep 2" not in rotated.output  # nothing moved: no point sweeping again
    assert f"does not unwrap: subject {damaged_subject} DEK v1" in rotated.output
    assert "(v1: 1)" in rotated.output
    assert key_audit(app, society)[-1] == ("keys.rotate", "failed")


def test_retiring_an_unknown_version_is_refused_and_audited(app: Flask, make: Factories) -> None:
    society = make.society("IT")

    result = invoke(app, "retire", "--society", "IT", "--version", "7")

    assert result.exit_code == 1
    assert "KEK v7 not retired" in result.output
    assert key_audit(app, society) == [("keys.retire_started", "ok"), ("keys.retire", "denied")]


@pytest.mark.parametrize("command", ["rotate", "rotate-index"])
def test_unknown_society_is_refused(app: Flask, command: str) -> None:
    result = invoke(app, command, "--society", "XX")

    assert result.exit_code == 1
    assert "society" in result.output


def index_rows_by_version(app: Flask, society: Society) -> dict[int, int]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(BlindIndexEntry.key_version, sa.func.count())
            .where(BlindIndexEntry.society_id == society.id)
            .group_by(BlindIndexEntry.key_version)
        )
        return dict(rows.all())


def test_rotating_the_index_key_rebuilds_every_record_under_a_new_planned_version(
    app: Flask, client: FlaskClient, make: Factories, sleeps: SleepHooks
) -> None:
    society = make.society("IT")
    create_sightings(client, make.actor_headers(Role.CASEWORKER, society), 3)
    officer = make.actor_headers(Role.TRACING_OFFICER, society)
    during: list[str] = []
    # A record saved while the command waits for every process to reload the key file is indexed too.
    sleeps.during = lambda: during.extend(
        create_sightings(client, make.actor_headers(Role.CASEWORKER, society), 1)
    )

    rotated = invoke(app, "rotate-index", "--society", "IT", "--batch-size", "2")

    assert rotated.exit_code == 0, rotated.output
    assert "index key v2 active" in rotated.output
    assert set(index_rows_by_version(app, society)) == {2}
    with app.app_context():
        planned = db.session.scalars(
            sa.select(BlindIndexPlan.key_version).where(BlindIndexPlan.society_id == society.id)
        )
        assert sorted(set(planned)) == [1, 2]
    found = client.post("/api/v1/sightings/search", headers=officer, json={"q": "Muhammad Alhassan"})
    assert len(found.json["items"]) == 3 + len(during)
    assert key_audit(app, society) == [("keys.index_rotate_started", "ok"), ("keys.index_rotate", "ok")]
