"""The match workflow under growth: saving with proposals on, draining the outbox, and the review queue.

Runs the application in this process (the embedded default: the process that answered a save drains
the outbox after the response) against a database grown to each size in turn, on SQLite and/or
PostgreSQL. The background records are the demo's families and registrations (names with real-world
spelling variation), created through the record services with their outbox messages; per size it
reports:

* drain throughput: outbox events proposed per second by one process (a sample of the backlog);
* saves over HTTP with proposals on: records per second including the drain that follows each answer,
  against the same saves' own time (the answer the client waits for) - same-run ratio;
* time from a sighting's POST to its candidate in the tracing officer's queue (median, p95);
* the queue listing (GET /api/v1/matches) p50/p95, against GET /healthz in the same run;
* outbox workers: one and two worker processes (each its own application and engine) proposing for the
  same backlog, events/s and the ratio, two ways: fed batches of message ids from a queue as Celery's
  broker feeds its workers (``process_messages`` per batch, what the Celery task runs), and each calling
  ``drain`` on its own (what two application processes of the embedded default do after their answers).

``--match-run N [N ...]``: ``rfl match run`` at scale. Grows the database to N tracing requests x N
sightings (people recombined from the dev-rfl set, a share of the sightings perturbed copies of
requests; created through the record services, proposals deferred: the run makes them), then times
``rfl match run`` itself (the CLI command, in process) and, as the baseline of the same run, the matcher's
own batch linkage of the same records, decrypted once beforehand: ``matching.Linker`` scoring with the
model the run used (blocking, comparison, scoring, competition) and ``matching.link`` as
``python -m matching link`` runs it (estimating its own model too). Prints the ratios (issue 12's target:
the run within 2x the matcher's batch time) and what each found of the planted pairs (the requests a
sighting was made from): the run's share proposed, the batch's share compared (its blocking recall) and
kept at the floor. The two do different work: the run scores up to ``RFL_MATCH_MAX_CANDIDATES`` records
per request, those sharing the most blocking keys; the batch compares every pair of each block it keeps,
a block's size bounded more tightly as the sets grow. With ``--run-workers P`` the run is timed a second time
with its chunks sent to a Celery worker of P processes (``rfl match worker``, Redis as the broker), the
way beyond one machine.

    python benchmarks/workflow_bench.py [--sizes 1000 10000] [--backends sqlite pg]
                                        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
    python benchmarks/workflow_bench.py --match-run 10000 30000 --backends pg [--data DEV_RFL]
                                        [--run-workers 2 [--broker redis://127.0.0.1:6379/13]]
    python benchmarks/workflow_bench.py --small      # seconds: the CI smoke run (SQLite, 150 records)
"""

from __future__ import annotations

import argparse
import collections
import copy
import itertools
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pycountry
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from instances import analyze  # this folder is on sys.path: the scripts' own
from scale import Recombiner, load
from sqlalchemy.engine import make_url

from matching import Linker, link
from rfl import create_app, migrate
from rfl.accounts import services as accounts
from rfl.accounts.models import Role, SocietyType
from rfl.audit.recorder import audited_transaction
from rfl.db import db
from rfl.demo_records import _person, _sighting, _tracing_request, seed_demo_records
from rfl.extensions import app_services
from rfl.identity import Actor
from rfl.matches.models import MatchCandidate, MatchRun, MatchRunChunk
from rfl.matches.store import current_matcher
from rfl.matches.worker import MAX_ATTEMPTS, DrainReport, drain, process_messages
from rfl.outbox import services as outbox
from rfl.outbox.models import OutboxMessage
from rfl.records import services as records
from rfl.records.canonical import MATCHED_FIELDS_CHANGED
from rfl.records.models import RecordStatus, Sighting, TracingRequest
from rfl.records.schemas import SightingInputSchema, TracingRequestInputSchema

DEV_RFL = Path(__file__).resolve().parents[2] / "shared" / "bench" / "dev-rfl"

PASSWORD = "workflow benchmark password"  # noqa: S105 (throwaway users of a throwaway database)


@dataclass(frozen=True)
class Plan:
    drain_sample: int  # outbox events of the background drained to measure throughput
    saves: int  # records saved over HTTP with proposals on
    pairs: int  # sightings timed from their POST to their candidate in the queue
    listings: int  # queue listings (and health checks) timed
    worker_sample: int  # outbox events proposed for by one, then by two worker processes (each way)


FULL = Plan(drain_sample=200, saves=40, pairs=10, listings=50, worker_sample=200)
SMALL = Plan(drain_sample=20, saves=6, pairs=3, listings=10, worker_sample=10)
PLANTED_SHARE = 0.5  # sightings that are perturbed copies of a tracing request (in --match-run)
SEED_BATCH = 500  # records created per transaction when growing for --match-run


@dataclass
class People:
    family: Actor
    registrar: Actor
    family_token: str
    registrar_token: str
    officer_token: str


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(q * len(ordered)) - 1)]


# --- the instance -----------------------------------------------------------------------------------


@contextmanager
def instance(backend: str, pg_url: str) -> Iterator[tuple[Flask, dict[str, str]]]:
    """A fresh instance on SQLite (a file) or PostgreSQL (a new database, dropped afterwards), and the
    environment that makes it (worker processes build their own application from it)."""
    directory = tempfile.mkdtemp(prefix="rfl-workflow-bench-")
    env = {"RFL_INSTANCE_DIR": directory, "RFL_LOG_LEVEL": "WARNING"}
    admin = None
    database = f"rfl_wfbench_{uuid.uuid4().hex[:8]}"
    try:
        if backend == "pg":
            admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
            env["RFL_DATABASE_URL"] = (
                make_url(pg_url).set(database=database).render_as_string(hide_password=False)
            )
            migrate.upgrade(env["RFL_DATABASE_URL"])
        app = create_app(env)
        with app.app_context():
            yield app, env
    finally:
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()
        shutil.rmtree(directory, ignore_errors=True)


def people() -> People:
    services = app_services()
    now = datetime.now(UTC)
    with audited_transaction() as (session, audit):
        made: dict[Any, Any] = {}  # societies by code, sign-ins by (code, role)
        for code, role in (("DE", Role.CASEWORKER), ("IT", Role.CASEWORKER), ("DE", Role.TRACING_OFFICER)):
            society = made.get(code) or accounts.create_society(
                session,
                services.keys,
                code=code,
                name=f"Red Cross {code}",
                type=SocietyType.NATIONAL_SOCIETY,
                country=code,
                audit=audit,
            )
            made[code] = society
            user = accounts.create_user(
                session,
                services.passwords,
                society=society,
                email=f"{role.value.replace('_', '-')}@{code.lower()}.bench",
                name=f"Bench {role.value} {code}",
                role=role,
                password=PASSWORD,
                audit=audit,
            )
            made[(code, role)] = accounts.issue_token(session, user, now=now, ttl=timedelta(hours=6))
    return People(
        family=made[("DE", Role.CASEWORKER)].actor,
        registrar=made[("IT", Role.CASEWORKER)].actor,
        family_token=made[("DE", Role.CASEWORKER)].token,
        registrar_token=made[("IT", Role.CASEWORKER)].token,
        officer_token=made[("DE", Role.TRACING_OFFICER)].token,
    )


def record_count() -> int:
    with db.transaction(read_only=True) as session:
        requests = session.scalar(sa.select(sa.func.count()).select_from(TracingRequest)) or 0
        sightings = session.scalar(sa.select(sa.func.count()).select_from(Sighting)) or 0
    return requests + sightings


def grow_to(size: int, who: People, seed: int) -> float:
    """Create demo records until there are ``size``; returns the seconds it took."""
    started = time.perf_counter()
    services = app_services()
    while (have := record_count()) < size:
        requests = max(1, min(50, round((size - have) / 2.3)))  # about 1.3 sightings per request
        seed += 1
        with audited_transaction() as (session, audit):
            seed_demo_records(
                session,
                services.crypto(session),
                families=[who.family],
                registrars=[who.registrar],
                now=datetime.now(UTC),
                audit=audit,
                requests=requests,
                seed=seed,
            )
    return time.perf_counter() - started


def backlog() -> int:
    with db.transaction(read_only=True) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) or 0


def drain_throughput(sample: int) -> tuple[int, float]:
    """Drain ``sample`` events of the backlog (oldest first) in this process."""
    started = time.perf_counter()
    report = drain(limit=sample)
    return report.processed, time.perf_counter() - started


def drop_backlog() -> None:
    """What is left of the backlog is dropped unproposed: the parts after this measure other things."""
    with db.transaction() as session:
        session.execute(sa.delete(OutboxMessage))


# --- outbox workers in processes of their own ---------------------------------------------------------

WORKER_START_SECONDS = 300  # a worker process that is not ready by then has failed to start
Command = tuple[str, int] | None  # (way, share) of a measurement; None: stop
Outcome = tuple[int, int, float, str]  # messages processed, failed, CPU seconds, failures' types


@dataclass
class Workers:
    """Worker processes started once for every measurement of an instance (starting one costs
    seconds, which is not what is measured), each with its own application and engine."""

    commands: list[multiprocessing.Queue[Command]]  # one per worker
    ids: multiprocessing.Queue[list[str] | None]  # batches of message ids, as Celery's broker hands them out
    results: multiprocessing.Queue[Outcome]  # one per command


def _outbox_worker(
    env: dict[str, str],
    commands: multiprocessing.Queue[Command],
    ids: multiprocessing.Queue[list[str] | None],
    results: multiprocessing.Queue[Outcome],
) -> None:
    """One worker process. Way "queue": batches of message ids from ``ids`` until None, each through
    ``process_messages``, the call the Celery task makes; "drain": ``drain(limit=share)``, as an
    application process of the embedded default drains after its answers. The worker's CPU seconds
    go back with its counts: on a machine others share, events/s of two workers says little on its
    own, CPU time per event says whether two workers contend."""
    app = create_app(env)
    with app.app_context():
        with db.transaction(read_only=True) as session:  # connected and the matcher loaded: not timed
            current_matcher(session, app_services().crypto(session))
        results.put((0, 0, 0.0, ""))  # ready
        while (command := commands.get()) is not None:
            way, share = command
            cpu = time.process_time()
            if way == "drain":
                report = drain(limit=share)
                # drain logs its failures' types itself (proposal_failed, on stderr)
                results.put((report.processed, report.failed, time.process_time() - cpu, ""))
                continue
            done, failures = DrainReport(), []
            while (batch := ids.get()) is not None:
                try:
                    process_messages([uuid.UUID(message_id) for message_id in batch], done)
                except Exception as error:  # kept, as by the Celery task: the sweep relays it again
                    failures.append(type(error).__qualname__)
            kinds = ", ".join(f"{n} {kind}" for kind, n in collections.Counter(failures).items())
            results.put((done.processed, done.failed + len(failures), time.process_time() - cpu, kinds))


@contextmanager
def worker_processes(env: dict[str, str], count: int) -> Iterator[Workers]:
    context = multiprocessing.get_context("spawn")  # a fork would share this process's connections
    workers = Workers([context.Queue() for _ in range(count)], context.Queue(), context.Queue())
    processes = [
        context.Process(target=_outbox_worker, args=(env, commands, workers.ids, workers.results))
        for commands in workers.commands
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            workers.results.get(timeout=WORKER_START_SECONDS)
        yield workers
    finally:
        for commands in workers.commands:
            commands.put(None)
        for process in processes:
            process.join()


def workers_throughput(workers: Workers, way: str, count: int, sample: int) -> dict[str, Any]:
    """``count`` of the worker processes proposing for ``sample`` messages of the backlog together;
    events/s counts the messages gone from the outbox, so a message two workers both took counts once."""
    if way == "queue":
        with db.transaction(read_only=True) as session:
            pending = outbox.pending_ids(
                session, MATCHED_FIELDS_CHANGED, limit=sample, max_attempts=MAX_ATTEMPTS
            )
        batch = app_services().settings.matching.drain_batch  # as the relay publishes them
        for start in range(0, len(pending), batch):
            workers.ids.put([str(message_id) for message_id in pending[start : start + batch]])
        for _ in range(count):
            workers.ids.put(None)
    before = backlog()
    started = time.perf_counter()
    for commands in workers.commands[:count]:
        commands.put((way, sample // count))
    outcomes = [workers.results.get() for _ in range(count)]
    seconds = time.perf_counter() - started
    gone = before - backlog()
    return {
        "per_s": gone / seconds,
        "failed": sum(failed for _, failed, _, _ in outcomes),
        "failures": "; ".join(kinds for *_, kinds in outcomes if kinds),
        "cpu_ms": 1000 * sum(cpu for _, _, cpu, _ in outcomes) / max(1, gone),
    }


def outbox_workers(env: dict[str, str], sample: int) -> dict[str, Any]:
    """One worker, then two, on ``sample`` messages each time, both ways; in one run, so comparable."""
    row: dict[str, Any] = {}
    with worker_processes(env, 2) as workers:
        for way in ("queue", "drain"):
            for count in (1, 2):
                measured = workers_throughput(workers, way, count, sample)
                row[f"{way}_{count}w_per_s"] = measured["per_s"]
                row[f"{way}_{count}w_failed"] = measured["failed"]
                row[f"{way}_{count}w_failures"] = measured["failures"]
                row[f"{way}_{count}w_cpu_ms"] = measured["cpu_ms"]
    return row


# --- over HTTP ------------------------------------------------------------------------------------


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def post(client: FlaskClient, path: str, body: dict[str, Any], token: str) -> tuple[str, float, float]:
    """POST a record; returns its id, the answer's time, and the time including the drain after it."""
    started = time.perf_counter()
    response = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    answered = time.perf_counter() - started
    assert response.status_code == 201, response.get_data(as_text=True)  # noqa: S101
    record_id = response.get_json()["id"]
    response.close()  # the embedded default drains the outbox here, after the answer
    return record_id, answered, time.perf_counter() - started


def saves_with_proposals(
    client: FlaskClient, who: People, count: int, rng: random.Random
) -> dict[str, float]:
    answers, totals = [], []
    for n in range(count):
        person = _person(rng)
        if n % 2 == 0:
            body, path, token = (
                _tracing_request(rng, person, "Berlin"),
                "/api/v1/tracing-requests",
                who.family_token,
            )
        else:
            body, path, token = (
                _sighting(rng, person, "Lampedusa", "IT"),
                "/api/v1/sightings",
                who.registrar_token,
            )
        _, answered, total = post(client, path, body, token)
        answers.append(answered)
        totals.append(total)
    return {
        "save_per_s": count / sum(answers),
        "with_proposals_per_s": count / sum(totals),
        "save_p50_ms": statistics.median(answers) * 1000,
        "save_p95_ms": _pct(answers, 0.95) * 1000,
        "total_p95_ms": _pct(totals, 0.95) * 1000,
    }


def sighting_to_queue(client: FlaskClient, who: People, pairs: int, rng: random.Random) -> dict[str, float]:
    """Seconds from a sighting's POST until its candidate is stored (the answer and the drain after
    it: the proposal's latency), and until the officer's queue lists it (read page by page: in a large
    queue, most of that is paging)."""
    officer = {"Authorization": f"Bearer {who.officer_token}"}
    times, proposed, missed = [], [], 0
    for _ in range(pairs):
        person = _person(rng)
        post(client, "/api/v1/tracing-requests", _tracing_request(rng, person, "Berlin"), who.family_token)
        body = _sighting(rng, person, "Lampedusa", "IT")
        body["restrictions"] = {"no_cross_border": False, "exclude": []}
        started = time.perf_counter()
        sighting_id, _, with_proposals = post(client, "/api/v1/sightings", body, who.registrar_token)
        with db.transaction(read_only=True) as session:
            probability = session.scalar(
                sa.select(sa.func.max(MatchCandidate.match_probability)).where(
                    MatchCandidate.sighting_id == uuid.UUID(sighting_id)
                )
            )
        if probability is None:
            missed += 1
            continue
        proposed.append(with_proposals)
        if sighting_id in queue_sightings(client, officer, probability):
            times.append(time.perf_counter() - started)
        else:
            missed += 1
    return {
        "to_candidate_p50_ms": statistics.median(proposed) * 1000 if proposed else float("nan"),
        "to_candidate_p95_ms": _pct(proposed, 0.95) * 1000 if proposed else float("nan"),
        "to_queue_p50_ms": statistics.median(times) * 1000 if times else float("nan"),
        "to_queue_p95_ms": _pct(times, 0.95) * 1000 if times else float("nan"),
        "pairs_listed": len(times),
        "pairs_missed": missed,
    }


def queue_sightings(client: FlaskClient, officer: dict[str, str], probability: float) -> set[str]:
    """The sightings of every proposed candidate the officer's queue lists at ``probability`` or above,
    read page by page (candidates proposed earlier in the run may fill the first pages)."""
    listed: set[str] = set()
    cursor = None
    while True:
        query = {"status": "proposed", "min_probability": probability, "limit": 200}
        query |= {"cursor": cursor} if cursor else {}
        response = client.get(f"/api/v1/matches?{urllib.parse.urlencode(query)}", headers=officer)
        page = response.get_json()
        listed |= {item["sighting_id"] for item in page["items"]}
        cursor = page.get("next_cursor")
        if not cursor:
            return listed


def listings(client: FlaskClient, who: People, count: int) -> dict[str, float]:
    officer = {"Authorization": f"Bearer {who.officer_token}"}
    health, queue = [], []
    for _ in range(count):
        _, seconds = _timed(lambda: client.get("/healthz").close())
        health.append(seconds)
        response, seconds = _timed(lambda: client.get("/api/v1/matches?status=proposed", headers=officer))
        assert response.status_code == 200  # noqa: S101
        response.close()
        queue.append(seconds)
    with db.transaction(read_only=True) as session:
        candidates = session.scalar(sa.select(sa.func.count()).select_from(MatchCandidate)) or 0
    return {
        "queue_p50_ms": statistics.median(queue) * 1000,
        "queue_p95_ms": _pct(queue, 0.95) * 1000,
        "healthz_p95_ms": _pct(health, 0.95) * 1000,
        "candidates": candidates,
    }


# --- rfl match run at scale ----------------------------------------------------------------------------

_REQUEST_SCHEMA = TracingRequestInputSchema()
_SIGHTING_SCHEMA = SightingInputSchema()
PERSON_FIELDS = (
    "given_name",
    "family_name",
    "sex",
    "birth_date",
    "birth_place",
    "nationality",
    "father_name",
    "mother_name",
    "phone",
)


def _person_fields(person: dict[str, str]) -> dict[str, str]:
    """A recombined dev-rfl person as the API takes it (a nationality the set spells as a country's
    name, not its code, is left out: the API takes codes only)."""
    fields = {name: person[name] for name in PERSON_FIELDS if person.get(name)}
    if "nationality" in fields and pycountry.countries.get(alpha_2=fields["nationality"]) is None:
        del fields["nationality"]
    return fields


def _request_body(person: dict[str, str]) -> dict[str, Any]:
    separation = {"date": "2024"} | ({"place": person["place"]} if person.get("place") else {})
    return {
        "sought_person": _person_fields(person),
        "enquirer": {"full_name": "Bench enquirer", "relationship": "sibling"},
        "separation": separation,
        "legal_basis": "vital_interest",
    }


def _sighting_body(person: dict[str, str]) -> dict[str, Any]:
    return {
        "person": _person_fields(person),
        "registration": {
            "date": person.get("record_date") or "2025-01-01",
            "place": person.get("place") or "Lampedusa",
            "country": "IT",
        },
        "condition": "alive",
        "legal_basis": "vital_interest",
    }


def _side_counts() -> tuple[int, int]:
    with db.transaction(read_only=True) as session:
        requests = session.scalar(sa.select(sa.func.count()).select_from(TracingRequest)) or 0
        sightings = session.scalar(sa.select(sa.func.count()).select_from(Sighting)) or 0
    return requests, sightings


Planted = set[tuple[str, str]]  # (tracing request id, sighting id): a sighting made from a request


def grow_pairs(size: int, who: People, people_maker: Recombiner) -> tuple[float, Planted]:
    """Create tracing requests and sightings until there are ``size`` of each (a share of the new
    sightings are perturbed copies of the new requests); returns the seconds it took and the pairs
    planted. Through the record services (encrypted, indexed, an outbox row each), ``SEED_BATCH``
    records a transaction; the outbox is then emptied unproposed: the timed run proposes for
    everything."""
    started = time.perf_counter()
    have_requests, have_sightings = _side_counts()
    sought = [people_maker.person(have_requests + n) for n in range(max(0, size - have_requests))]
    planted = sought[: int(len(sought) * PLANTED_SHARE)]
    found = [people_maker.sighting_of(person, n) for n, person in enumerate(planted)]
    found += [people_maker.person(2 * size + n) for n in range(max(0, size - have_sightings - len(found)))]
    work = [(records.TRACING_REQUESTS, who.family, _REQUEST_SCHEMA.load(_request_body(p))) for p in sought]
    work += [(records.SIGHTINGS, who.registrar, _SIGHTING_SCHEMA.load(_sighting_body(p))) for p in found]
    services = app_services()
    created: list[str] = []
    for first in range(0, len(work), SEED_BATCH):
        with audited_transaction() as (session, audit):
            crypto = services.crypto(session)
            now = datetime.now(UTC)
            for kind, actor, document in work[first : first + SEED_BATCH]:
                view = records.create_record(session, crypto, actor, kind, document, now=now, audit=audit)
                created.append(str(view.id))
    drop_backlog()
    analyze()
    requests, sightings = created[: len(sought)], created[len(sought) :]
    return time.perf_counter() - started, set(
        zip(requests[: len(planted)], sightings[: len(planted)], strict=True)
    )


def _share_found(planted: Planted, pairs: Iterable[tuple[str, str]]) -> float:
    """The share of the planted pairs among ``pairs``."""
    return len(planted & set(pairs)) / len(planted) if planted else float("nan")


def _candidate_pairs() -> Iterator[tuple[str, str]]:
    with db.transaction(read_only=True) as session:
        rows = session.execute(sa.select(MatchCandidate.tracing_request_id, MatchCandidate.sighting_id))
        for request_id, sighting_id in rows:
            yield str(request_id), str(sighting_id)


@dataclass(frozen=True)
class RunWorkers:
    """Celery worker processes a second timing of ``rfl match run`` sends its chunks to (0: none)."""

    processes: int
    broker: str


def _command_environment(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RFL_")} | env


def _rfl(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("rfl")), *args]


@contextmanager
def celery_workers(env: dict[str, str], processes: int, broker: str) -> Iterator[dict[str, str]]:
    """A Celery worker of ``processes`` processes (``rfl match worker``) serving the instance, ready to
    take tasks; yields the environment that sends a run's chunks to it. The broker's database is
    emptied first (no task of an earlier run is waiting there)."""
    import redis

    redis.Redis.from_url(broker).flushdb()
    celery_env = env | {"RFL_MATCHING_EXECUTOR": "celery", "RFL_CELERY_BROKER_URL": broker}
    with tempfile.TemporaryFile() as log:
        worker = subprocess.Popen(
            _rfl("match", "worker", f"--concurrency={processes}"),
            env=_command_environment(celery_env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while not _says_ready(log):
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the Celery worker did not start")
                time.sleep(0.2)
            yield celery_env
        finally:
            worker.terminate()
            worker.wait(60)


def _says_ready(log: IO[bytes]) -> bool:
    log.seek(0)
    return b" ready." in log.read()


def timed_match_run(
    env: dict[str, str], budget: float | None, planted: Planted, prefix: str = "run"
) -> dict[str, Any]:
    """``rfl match run`` as an operator runs it (its own process, start-up included) from no candidates
    at all, so every size measures a full re-score that stores every candidate. Given ``budget``
    seconds, a run still going then is killed (the command is resumable) and the whole run's time is
    extrapolated from the requests its finished chunks re-scored. ``recall``: the share of the planted
    pairs proposed (of a finished run). The results are named ``{prefix}_...``."""
    with db.transaction() as session:
        for model in (MatchRunChunk, MatchRun, MatchCandidate):
            session.execute(sa.delete(model))
    command = _rfl("match", "run")
    environment = _command_environment(env)
    started = time.perf_counter()
    try:
        finished = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=budget, check=False
        )
    except subprocess.TimeoutExpired:
        output = f"killed after {budget:.0f} s"
    else:
        if finished.returncode != 0:
            raise SystemExit(f"rfl match run failed:\n{finished.stderr}")
        output = finished.stdout.strip()
    seconds = time.perf_counter() - started
    with db.transaction(read_only=True) as session:
        total = session.scalar(sa.select(MatchRun.total_requests)) or 0
        done = session.scalar(
            sa.select(sa.func.sum(MatchRunChunk.requests)).where(MatchRunChunk.done_at.is_not(None))
        )
        stored = session.scalar(sa.select(sa.func.count()).select_from(MatchCandidate)) or 0
    done = int(done or 0)
    measured = {
        # start-up is in ``seconds``: an extrapolation errs on the slow side
        "s": seconds if done == total else seconds * total / done if done else float("nan"),
        "extrapolated": done != total,
        "done": done,
        "total": total,
        "candidates": stored,
        "recall": _share_found(planted, _candidate_pairs()) if done == total else float("nan"),
        "output": output,
    }
    return {f"{prefix}_{name}": value for name, value in measured.items()}


def _decrypted(kind: records.RecordType) -> list[dict[str, Any]]:
    """Every open record of ``kind`` in the matcher's canonical form (outside any timing)."""
    with db.transaction(read_only=True) as session:
        ids = list(
            session.scalars(
                sa.select(kind.model.id)
                .where(kind.model.status != RecordStatus.CLOSED)
                .order_by(kind.model.id)
            )
        )
    canonical: list[dict[str, Any]] = []
    for first in range(0, len(ids), SEED_BATCH):
        with db.transaction(read_only=True) as session:
            batch = session.scalars(
                sa.select(kind.model).where(kind.model.id.in_(ids[first : first + SEED_BATCH]))
            )
            canonical += records.canonical_records(app_services().crypto(session), kind, list(batch))
    return canonical


def matcher_batch(planted: Planted) -> dict[str, Any]:
    """The matcher's own batch linkage of the same records: scoring with the model ``rfl match run``
    used, and as ``python -m matching link`` runs it (fitting its own); how many pairs it compared,
    and the shares of the planted pairs it compared (blocking recall) and kept (at the floor)."""
    started = time.perf_counter()
    requests, sightings = _decrypted(records.TRACING_REQUESTS), _decrypted(records.SIGHTINGS)
    decrypt_s = time.perf_counter() - started  # reported beside, not in the baseline's time
    with db.transaction(read_only=True) as session:
        matcher = current_matcher(session, app_services().crypto(session))
    floor = app_services().settings.matching.floor
    # The model's m, u and prior; the name frequencies are counted from these records, as batch
    # linkage does (a vocabulary of fixed frequencies is for scoring one record at a time).
    linker = Linker(copy.deepcopy(matcher.model), fit=False, exclusivity=matcher.exclusivity)
    started = time.perf_counter()
    links = linker.link(requests, sightings)
    kept = links.selected(floor)
    scored_s = time.perf_counter() - started
    compared = [
        (links.left_ids[i], links.right_ids[j])
        for i, j in zip(links.left_pos.tolist(), links.right_pos.tolist(), strict=True)
    ]
    started = time.perf_counter()
    fitted = len(link(requests, sightings).selected(floor))
    fitted_s = time.perf_counter() - started
    return {
        "decrypt_s": decrypt_s,
        "batch_s": scored_s,
        "batch_pairs": len(kept),
        "batch_compared": len(compared),
        "batch_blocking_recall": _share_found(planted, compared),
        "batch_recall": _share_found(planted, (compared[i] for i in kept.tolist())),
        "batch_fit_s": fitted_s,
        "batch_fit_pairs": fitted,
    }


def run_match_run(
    backend: str, sizes: list[int], pg_url: str, data: Path, *, budget: float | None, workers: RunWorkers
) -> list[dict[str, Any]]:
    rows = []
    with instance(backend, pg_url) as (_app, env):
        who = people()
        people_maker = Recombiner(load(data), seed=12)
        planted: Planted = set()  # every size's: the records grow
        for size in sizes:
            grown, planted_now = grow_pairs(size, who, people_maker)
            planted |= planted_now
            row: dict[str, Any] = {"backend": backend, "size": size, "load_s": grown}
            row |= timed_match_run(env, budget, planted)
            if workers.processes:
                with celery_workers(env, workers.processes, workers.broker) as celery_env:
                    row |= timed_match_run(celery_env, budget, planted, prefix="celery")
                row["celery_processes"] = workers.processes
            row |= matcher_batch(planted)
            row["load"] = load_average()
            rows.append(row)
            report_match_run(row)
    return rows


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _run_time(row: dict[str, Any], prefix: str = "run") -> str:
    if not row[f"{prefix}_extrapolated"]:
        return f"{row[f'{prefix}_s']:.1f} s"
    return (
        f"EXTRAPOLATED {row[f'{prefix}_s']:.0f} s (killed at the time budget with {row[f'{prefix}_done']} of "
        f"{row[f'{prefix}_total']} requests re-scored)"
    )


def report_match_run(row: dict[str, Any]) -> None:
    floor = app_services().settings.matching.floor
    celery = (
        f"  rfl match run, chunks to a Celery worker of {row['celery_processes']} processes: "
        f"{_run_time(row, 'celery')} -> {row['celery_s'] / row['batch_s']:.1f}x the batch, "
        f"{row['celery_candidates']} candidates stored\n"
        if "celery_s" in row
        else ""
    )
    print(
        f"\n{row['backend']} rfl match run, {row['size']} tracing requests x {row['size']} sightings "
        f"(grown in {row['load_s']:.0f} s; load average {row['load']})\n"
        f"  rfl match run: {_run_time(row)} ({row['run_total'] / row['run_s']:.1f} requests/s), "
        f"{row['run_candidates']} candidates stored ({row['run_output']}); planted pairs proposed: "
        f"{row['run_recall']:.4f}\n"
        f"{celery}"
        f"  matcher batch, the run's model: {row['batch_s']:.1f} s ({row['batch_pairs']} pairs >= {floor} "
        f"of {row['batch_compared']} compared) -> run = {row['run_s'] / row['batch_s']:.1f}x (target: "
        f"within 2x); planted pairs compared {row['batch_blocking_recall']:.4f}, kept "
        f"{row['batch_recall']:.4f}\n"
        f"  matcher batch as `python -m matching link` (fitting its model): {row['batch_fit_s']:.1f} s "
        f"({row['batch_fit_pairs']} pairs >= {floor}) -> run = {row['run_s'] / row['batch_fit_s']:.1f}x\n"
        f"  (reading and decrypting every record once, before the baselines: {row['decrypt_s']:.1f} s)",
        flush=True,
    )


# --- the run --------------------------------------------------------------------------------------


def run_backend(backend: str, sizes: list[int], plan: Plan, pg_url: str) -> list[dict[str, Any]]:
    rows = []
    with instance(backend, pg_url) as (app, env):
        who = people()
        client = app.test_client()
        rng = random.Random(7)
        for size in sizes:
            grown = grow_to(size, who, seed=size)
            analyze()
            waiting = backlog()
            processed, seconds = drain_throughput(plan.drain_sample)
            row: dict[str, Any] = {
                "backend": backend,
                "records": record_count(),
                "load_s": grown,
                "backlog": waiting,
                "drain_events_per_s": processed / seconds if seconds else float("nan"),
            }
            row |= outbox_workers(env, plan.worker_sample)
            drop_backlog()
            row |= saves_with_proposals(client, who, plan.saves, rng)
            row |= sighting_to_queue(client, who, plan.pairs, rng)
            row |= listings(client, who, plan.listings)
            row["load"] = load_average()
            rows.append(row)
            report(row)
    return rows


def report(row: dict[str, Any]) -> None:
    ratio = row["with_proposals_per_s"] / row["save_per_s"]
    print(
        f"\n{row['backend']} with {row['records']} records (grown in {row['load_s']:.0f} s; "
        f"{row['candidates']} candidates stored; load average {row['load']})\n"
        f"  drain: {row['drain_events_per_s']:.1f} outbox events/s (this process, sample of the backlog)\n"
        f"{_workers_report(row)}"
        f"  saves over HTTP: {row['save_per_s']:.1f}/s answered, "
        f"{row['with_proposals_per_s']:.1f}/s with the proposals drained after each answer = {ratio:.2f}x; "
        f"answer p50 {row['save_p50_ms']:.0f} ms p95 {row['save_p95_ms']:.0f} ms, "
        f"with proposals p95 {row['total_p95_ms']:.0f} ms\n"
        f"  sighting POST -> its candidate stored: p50 {row['to_candidate_p50_ms']:.0f} ms, "
        f"p95 {row['to_candidate_p95_ms']:.0f} ms\n"
        f"  sighting POST -> candidate in the officer's queue: p50 {row['to_queue_p50_ms']:.0f} ms, "
        f"p95 {row['to_queue_p95_ms']:.0f} ms "
        f"({row['pairs_listed']} listed, {row['pairs_missed']} not proposed)\n"
        f"  queue listing: p50 {row['queue_p50_ms']:.0f} ms, p95 {row['queue_p95_ms']:.0f} ms = "
        f"{row['queue_p95_ms'] / row['healthz_p95_ms']:.1f}x GET /healthz p95 "
        f"({row['healthz_p95_ms']:.1f} ms)",
        flush=True,
    )


def _workers_report(row: dict[str, Any]) -> str:
    lines = []
    for way, how in (("queue", "fed id batches as by Celery's broker"), ("drain", "each calling drain")):
        one, two = row[f"{way}_1w_per_s"], row[f"{way}_2w_per_s"]
        failed = [
            f"{row[f'{way}_{n}w_failed']} failed with {n} ({row[f'{way}_{n}w_failures'] or 'see the log'})"
            for n in (1, 2)
            if row[f"{way}_{n}w_failed"]
        ]
        failures = f" ({'; '.join(failed)})" if failed else ""
        lines.append(
            f"  worker processes, {how}: 1 worker {one:.1f} events/s, 2 workers {two:.1f} events/s = "
            f"{two / one:.2f}x{failures}; worker CPU per event "
            f"{row[f'{way}_1w_cpu_ms']:.0f} ms and {row[f'{way}_2w_cpu_ms']:.0f} ms\n"
        )
    return "".join(lines)


def summary(rows: list[dict[str, Any]]) -> None:
    print(
        "\nbackend  records  drain ev/s  saves/s  +proposals/s  ratio  proposed p95  to-queue p95  "
        "queue p95  vs healthz"
    )
    for row in rows:
        print(
            f"{row['backend']:8} {row['records']:7} {row['drain_events_per_s']:11.1f} "
            f"{row['save_per_s']:8.1f} "
            f"{row['with_proposals_per_s']:13.1f} {row['with_proposals_per_s'] / row['save_per_s']:6.2f} "
            f"{row['to_candidate_p95_ms']:10.0f} ms {row['to_queue_p95_ms']:10.0f} ms "
            f"{row['queue_p95_ms']:7.0f} ms "
            f"{row['queue_p95_ms'] / row['healthz_p95_ms']:9.1f}x"
        )
    by_backend: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_backend.setdefault(row["backend"], []).append(row)
    for backend, measured in by_backend.items():
        if len(measured) > 1:
            first, last = measured[0], measured[-1]
            print(
                f"{backend}: {first['records']} -> {last['records']} records: drain throughput "
                f"{last['drain_events_per_s'] / first['drain_events_per_s']:.2f}x, saves with proposals "
                f"{last['with_proposals_per_s'] / first['with_proposals_per_s']:.2f}x, queue p95 "
                f"{last['queue_p95_ms'] / first['queue_p95_ms']:.2f}x"
            )


def match_run_summary(rows: list[dict[str, Any]]) -> None:
    print(
        "\nbackend  requests x sightings  match run s  batch s  ratio  batch(fit) s  ratio  "
        "planted found: run  batch  load average"
    )
    for row in rows:
        print(
            f"{row['backend']:8} {row['size']:8} x {row['size']:<8} "
            f"{row['run_s']:12.1f}{'*' if row['run_extrapolated'] else ' '}"
            f"{row['batch_s']:8.1f} {row['run_s'] / row['batch_s']:6.1f} {row['batch_fit_s']:13.1f} "
            f"{row['run_s'] / row['batch_fit_s']:6.1f}  {row['run_recall']:17.4f} "
            f"{row['batch_recall']:6.4f}  {row['load']}"
        )
        if "celery_s" in row:
            print(
                f"{'':8} {'':19} {row['celery_s']:12.1f}{'*' if row['celery_extrapolated'] else ' '}"
                f"{'':15}{row['celery_s'] / row['batch_s']:6.1f}  "
                f"(Celery, {row['celery_processes']} processes)"
            )
    if any(row["run_extrapolated"] for row in rows):
        print("* extrapolated from the part a run did within --run-budget")
    for first, last in itertools.pairwise(rows):
        if first["backend"] == last["backend"]:
            grew = last["size"] / first["size"]
            print(
                f"{last['backend']}: {first['size']} -> {last['size']} per side ({grew:.1f}x): match run "
                f"{last['run_s'] / first['run_s']:.2f}x, "
                f"matcher batch {last['batch_s'] / first['batch_s']:.2f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", help="records to grow to (default 1000 10000)")
    parser.add_argument("--backends", nargs="+", choices=("sqlite", "pg"), default=["sqlite", "pg"])
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--match-run", type=int, nargs="+", default=[], metavar="N", help="time rfl match run at N x N"
    )
    parser.add_argument(
        "--run-budget", type=float, help="seconds after which a match run is killed and extrapolated"
    )
    parser.add_argument(
        "--run-workers",
        type=int,
        default=0,
        metavar="P",
        help="also time the match run with its chunks sent to a Celery worker of P processes",
    )
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13", help="for --run-workers (emptied)")
    parser.add_argument("--data", type=Path, default=DEV_RFL, help="the dev-rfl set people are made from")
    parser.add_argument("--small", action="store_true", help="a smoke run: SQLite, 150 records, 100 x 100")
    args = parser.parse_args()
    plan = FULL
    if args.small:
        args.sizes, args.backends, args.match_run, plan = [150], ["sqlite"], [100], SMALL
    if args.sizes is None:  # the saving part runs unless only the match run was asked for
        args.sizes = [] if args.match_run else [1000, 10000]
    rows, runs = [], []
    for backend in args.backends:
        if args.sizes:
            rows.extend(run_backend(backend, sorted(args.sizes), plan, args.pg))
        if args.match_run:
            workers = RunWorkers(args.run_workers, args.broker)
            runs.extend(
                run_match_run(
                    backend,
                    sorted(args.match_run),
                    args.pg,
                    args.data,
                    budget=args.run_budget,
                    workers=workers,
                )
            )
    if rows:
        summary(rows)
    if runs:
        match_run_summary(runs)


if __name__ == "__main__":
    main()
