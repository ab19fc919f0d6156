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
* the queue listing (GET /api/v1/matches) p50/p95, against GET /healthz in the same run.

    python benchmarks/workflow_bench.py [--sizes 1000 10000] [--backends sqlite pg]
                                        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
    python benchmarks/workflow_bench.py --small      # seconds: the CI smoke run (SQLite, 150 records)
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from rfl import create_app, migrate
from rfl.accounts import services as accounts
from rfl.accounts.models import Role, SocietyType
from rfl.audit.recorder import audited_transaction
from rfl.db import db
from rfl.demo_records import _person, _sighting, _tracing_request, seed_demo_records
from rfl.extensions import app_services
from rfl.identity import Actor
from rfl.matches.models import MatchCandidate
from rfl.matches.worker import drain
from rfl.outbox.models import OutboxMessage
from rfl.records.models import Sighting, TracingRequest

PASSWORD = "workflow benchmark password"  # noqa: S105 (throwaway users of a throwaway database)


@dataclass(frozen=True)
class Plan:
    drain_sample: int  # outbox events of the background drained to measure throughput
    saves: int  # records saved over HTTP with proposals on
    pairs: int  # sightings timed from their POST to their candidate in the queue
    listings: int  # queue listings (and health checks) timed


FULL = Plan(drain_sample=200, saves=40, pairs=10, listings=50)
SMALL = Plan(drain_sample=20, saves=6, pairs=3, listings=10)


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
def instance(backend: str, pg_url: str) -> Iterator[Flask]:
    """A fresh instance on SQLite (a file) or PostgreSQL (a new database, dropped afterwards)."""
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
            yield app
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
        made = {}
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
    """Drain ``sample`` events of the backlog (oldest first); the rest is dropped unproposed."""
    started = time.perf_counter()
    report = drain(limit=sample)
    seconds = time.perf_counter() - started
    with db.transaction() as session:
        session.execute(sa.delete(OutboxMessage))
    return report.processed, seconds


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
    """Seconds from a sighting's POST until the officer's queue lists its candidate."""
    officer = {"Authorization": f"Bearer {who.officer_token}"}
    times, missed = [], 0
    for _ in range(pairs):
        person = _person(rng)
        post(client, "/api/v1/tracing-requests", _tracing_request(rng, person, "Berlin"), who.family_token)
        body = _sighting(rng, person, "Lampedusa", "IT")
        body["restrictions"] = {"no_cross_border": False, "exclude": []}
        started = time.perf_counter()
        sighting_id, _, _ = post(client, "/api/v1/sightings", body, who.registrar_token)
        with db.transaction(read_only=True) as session:
            probability = session.scalar(
                sa.select(sa.func.max(MatchCandidate.match_probability)).where(
                    MatchCandidate.sighting_id == uuid.UUID(sighting_id)
                )
            )
        if probability is None:
            missed += 1
            continue
        response = client.get(
            f"/api/v1/matches?status=proposed&min_probability={probability}", headers=officer
        )
        listed = {item["sighting_id"] for item in response.get_json()["items"]}
        if sighting_id in listed:
            times.append(time.perf_counter() - started)
        else:
            missed += 1
    return {
        "to_queue_p50_ms": statistics.median(times) * 1000 if times else float("nan"),
        "to_queue_p95_ms": _pct(times, 0.95) * 1000 if times else float("nan"),
        "pairs_listed": len(times),
        "pairs_missed": missed,
    }


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


# --- the run --------------------------------------------------------------------------------------


def run_backend(backend: str, sizes: list[int], plan: Plan, pg_url: str) -> list[dict[str, Any]]:
    rows = []
    with instance(backend, pg_url) as app:
        who = people()
        client = app.test_client()
        rng = random.Random(7)
        for size in sizes:
            grown = grow_to(size, who, seed=size)
            waiting = backlog()
            processed, seconds = drain_throughput(plan.drain_sample)
            row: dict[str, Any] = {
                "backend": backend,
                "records": record_count(),
                "load_s": grown,
                "backlog": waiting,
                "drain_events_per_s": processed / seconds if seconds else float("nan"),
            }
            row |= saves_with_proposals(client, who, plan.saves, rng)
            row |= sighting_to_queue(client, who, plan.pairs, rng)
            row |= listings(client, who, plan.listings)
            rows.append(row)
            report(row)
    return rows


def report(row: dict[str, Any]) -> None:
    ratio = row["with_proposals_per_s"] / row["save_per_s"]
    print(
        f"\n{row['backend']} with {row['records']} records (grown in {row['load_s']:.0f} s; "
        f"{row['candidates']} candidates stored)\n"
        f"  drain: {row['drain_events_per_s']:.1f} outbox events/s (one process, sample of the backlog)\n"
        f"  saves over HTTP: {row['save_per_s']:.1f}/s answered, "
        f"{row['with_proposals_per_s']:.1f}/s with the proposals drained after each answer = {ratio:.2f}x; "
        f"answer p50 {row['save_p50_ms']:.0f} ms p95 {row['save_p95_ms']:.0f} ms, "
        f"with proposals p95 {row['total_p95_ms']:.0f} ms\n"
        f"  sighting POST -> candidate in the officer's queue: p50 {row['to_queue_p50_ms']:.0f} ms, "
        f"p95 {row['to_queue_p95_ms']:.0f} ms "
        f"({row['pairs_listed']} listed, {row['pairs_missed']} not proposed)\n"
        f"  queue listing: p50 {row['queue_p50_ms']:.0f} ms, p95 {row['queue_p95_ms']:.0f} ms = "
        f"{row['queue_p95_ms'] / row['healthz_p95_ms']:.1f}x GET /healthz p95 "
        f"({row['healthz_p95_ms']:.1f} ms)",
        flush=True,
    )


def summary(rows: list[dict[str, Any]]) -> None:
    print("\nbackend  records  drain ev/s  saves/s  +proposals/s  ratio  to-queue p95  queue p95  vs healthz")
    for row in rows:
        print(
            f"{row['backend']:8} {row['records']:7} {row['drain_events_per_s']:11.1f} "
            f"{row['save_per_s']:8.1f} "
            f"{row['with_proposals_per_s']:13.1f} {row['with_proposals_per_s'] / row['save_per_s']:6.2f} "
            f"{row['to_queue_p95_ms']:10.0f} ms {row['queue_p95_ms']:7.0f} ms "
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--backends", nargs="+", choices=("sqlite", "pg"), default=["sqlite", "pg"])
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--small", action="store_true", help="a smoke run: SQLite, 150 records")
    args = parser.parse_args()
    plan = FULL
    if args.small:
        args.sizes, args.backends, plan = [150], ["sqlite"], SMALL
    rows = []
    for backend in args.backends:
        rows.extend(run_backend(backend, sorted(args.sizes), plan, args.pg))
    summary(rows)


if __name__ == "__main__":
    main()
