"""rfl match drain / run / fit / stats: idempotent, resumable, encrypted models."""

from __future__ import annotations

import gc

import pytest
import sqlalchemy as sa
from flask import Flask

from rfl.cli import main
from rfl.db import db
from rfl.matches import commands, worker
from rfl.matches.models import MatchCandidate, MatcherModel, MatchRun, MatchRunChunk
from rfl.outbox.models import OutboxMessage
from rfl.records.models import RecordStatus, Sighting
from tests.conftest import Factories
from tests.rfl.matches.conftest import PEOPLE, seed_pairs


def invoke(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(main, ["match", *args])


def candidates(app: Flask) -> set[tuple[str, str, float, str]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(
                MatchCandidate.tracing_request_id,
                MatchCandidate.sighting_id,
                MatchCandidate.match_probability,
                MatchCandidate.status,
            )
        )
        return {(str(r), str(s), round(p, 9), status.value) for r, s, p, status in rows}


@pytest.fixture
def seeded(app: Flask, make: Factories) -> Flask:
    seed_pairs(app, make, make.society("DE", country="DE"), make.society("IT"))
    return app


@pytest.fixture
def read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The records decrypted for matching (kind:id), in order, as they are read."""
    from rfl.matches import proposals

    decrypted: list[str] = []
    real_canonical = proposals.canonical_records

    def counted(crypto, kind, records):  # type: ignore[no-untyped-def]
        decrypted.extend(f"{kind.name}:{record.id}" for record in records)
        return real_canonical(crypto, kind, records)

    monkeypatch.setattr(proposals, "canonical_records", counted)
    return decrypted


def test_drain_proposes_for_every_waiting_record_and_empties_the_outbox(
    seeded: Flask, make: Factories
) -> None:
    drained = invoke(seeded, "drain")

    assert drained.exit_code == 0, drained.output
    assert f"{2 * len(PEOPLE)} records proposed for" in drained.output
    assert make.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    pairs = candidates(seeded)
    assert len({(r, s) for r, s, _, _ in pairs}) >= len(PEOPLE)


def test_run_twice_changes_nothing(seeded: Flask) -> None:
    invoke(seeded, "drain")
    drained = {(r, s, status) for r, s, _, status in candidates(seeded)}

    first = invoke(seeded, "run")
    after_first = candidates(seeded)
    second = invoke(seeded, "run", "--restart")

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert {(r, s, status) for r, s, _, status in after_first} == drained
    assert candidates(seeded) == after_first
    assert "0 candidates stored or changed" in second.output


def test_a_killed_run_resumed_gives_what_an_uninterrupted_run_gives(
    seeded: Flask, make: Factories, monkeypatch: pytest.MonkeyPatch
) -> None:
    uninterrupted = invoke(seeded, "run")
    expected = candidates(seeded)
    with seeded.app_context(), db.transaction() as session:
        session.execute(sa.delete(MatchCandidate))
        session.execute(sa.delete(MatchRunChunk))
        session.execute(sa.delete(MatchRun))
    monkeypatch.setattr(commands, "RUN_BATCH", 2)
    monkeypatch.setattr(commands, "RUN_BATCH_SHARED_STORE", 2)
    real_propose, calls = worker.propose_many, []

    def killed_in_the_second(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if the process were killed in the middle of its second batch
        return real_propose(*args, **kwargs)

    monkeypatch.setattr(worker, "propose_many", killed_in_the_second)
    killed = invoke(seeded, "run")
    done_when_killed = make.scalar(
        sa.select(sa.func.sum(MatchRunChunk.requests)).where(MatchRunChunk.done_at.is_not(None))
    )
    monkeypatch.setattr(worker, "propose_many", real_propose)
    resumed = invoke(seeded, "run")

    assert uninterrupted.exit_code == 0, uninterrupted.output
    assert killed.exit_code != 0
    assert done_when_killed == 2  # the first batch, committed with its work
    assert resumed.exit_code == 0, resumed.output
    assert make.scalar(sa.select(sa.func.count()).select_from(MatchRun)) == 1
    assert candidates(seeded) == expected


def test_fit_needs_enough_records_and_stores_nothing_otherwise(seeded: Flask, make: Factories) -> None:
    refused = invoke(seeded, "fit")

    assert refused.exit_code != 0
    assert make.scalar(sa.select(sa.func.count()).select_from(MatcherModel)) == 0


def test_stats_show_counts_by_status_and_the_model(seeded: Flask) -> None:
    invoke(seeded, "drain")

    shown = invoke(seeded, "stats")

    assert shown.exit_code == 0, shown.output
    assert "the default shipped with the package" in shown.output
    assert "proposed" in shown.output
    assert "outbox backlog: 0" in shown.output


def test_a_run_decrypts_each_record_once_yet_stores_what_proposing_one_record_at_a_time_does(
    seeded: Flask, read: list[str]
) -> None:
    with seeded.app_context():
        with db.transaction() as session:
            waiting = list(session.scalars(sa.select(OutboxMessage.id).order_by(OutboxMessage.created_at)))
        for message_id in waiting:
            # each on its own, as a Celery worker took them before they were relayed in batches
            worker.process_messages([message_id], worker.DrainReport())
    expected, read_alone = candidates(seeded), list(read)
    with seeded.app_context(), db.transaction() as session:
        session.execute(sa.delete(MatchCandidate))
    read.clear()
    ran = invoke(seeded, "run")

    assert len(read_alone) > len(set(read_alone))  # alone, a record is read for each of its candidates
    assert ran.exit_code == 0, ran.output
    assert read
    assert len(read) == len(set(read))
    assert candidates(seeded) == expected


def test_a_drain_proposes_for_a_batch_in_one_pass_and_stores_what_one_message_at_a_time_does(
    seeded: Flask, read: list[str]
) -> None:
    with seeded.app_context():
        with db.transaction() as session:
            statement = sa.select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)
            waiting = [(m.id, m.topic, m.object_type, m.object_id) for m in session.scalars(statement)]
        for message_id, *_ in waiting:
            worker.process_messages([message_id], worker.DrainReport())
        expected, read_alone = candidates(seeded), list(read)
        with db.transaction() as session:  # the same work to do again
            session.execute(sa.delete(MatchCandidate))
            session.add_all(
                OutboxMessage(topic=topic, object_type=kind, object_id=record_id)
                for _, topic, kind, record_id in waiting
            )
        read.clear()
        drained = worker.drain()

    assert drained == worker.DrainReport(processed=len(waiting), proposed=len(expected), failed=0)
    assert len(read_alone) > len(set(read_alone))
    assert len(read) == len(set(read))  # each record read once for the whole batch
    assert candidates(seeded) == expected


def test_a_run_pauses_cyclic_garbage_collection_while_a_chunk_proposes_and_restores_it(
    seeded: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each full collection walks the run's whole heap of decrypted records; a chunk that fails leaves
    the collector running too."""
    real_propose, collecting = worker.propose_many, []

    def watched(*args, **kwargs):  # type: ignore[no-untyped-def]
        collecting.append(gc.isenabled())
        if len(collecting) == 2:
            raise RuntimeError("the second chunk fails")
        return real_propose(*args, **kwargs)

    monkeypatch.setattr(commands, "RUN_BATCH", 2)
    monkeypatch.setattr(commands, "RUN_BATCH_SHARED_STORE", 2)
    monkeypatch.setattr(worker, "propose_many", watched)
    ran = invoke(seeded, "run")

    assert ran.exit_code != 0
    assert collecting == [False, False]
    assert gc.isenabled()


def test_a_run_keeps_the_sightings_it_read_but_not_the_requests_it_proposed_for(
    seeded: Flask, make: Factories, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each request is proposed for once in a run, while a sighting is the candidate of many: its
    catalogue keeps every open sighting's view, and nothing keeps a request's."""
    real_propose, proposers = worker.propose_many, []

    def watched(*args, **kwargs):  # type: ignore[no-untyped-def]
        proposers.append(kwargs["proposer"])
        return real_propose(*args, **kwargs)

    monkeypatch.setattr(commands, "RUN_BATCH", 2)
    monkeypatch.setattr(commands, "RUN_BATCH_SHARED_STORE", 2)
    monkeypatch.setattr(worker, "propose_many", watched)
    ran = invoke(seeded, "run")

    assert ran.exit_code == 0, ran.output
    assert len(proposers) > 1
    assert len(set(map(id, proposers))) == 1  # the run's one proposer
    [proposer] = set(proposers)
    assert proposer.catalogue is not None
    open_sightings = sa.select(sa.func.count()).where(Sighting.status != RecordStatus.CLOSED)
    assert len(proposer.catalogue.views) == make.scalar(open_sightings) > 0
    assert not proposer._views
