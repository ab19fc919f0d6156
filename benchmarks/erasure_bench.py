"""Erasure throughput of a retention run, in persons per second (not a test).

    python benchmarks/erasure_bench.py [--records 10000] [--batch 200]
                                       [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
    python benchmarks/erasure_bench.py --small         # a quick run (CI): 300 records

Without ``--pg`` it runs on a SQLite file in a temporary folder. ``--records`` tracing requests are
created through the record service, as the API does (every field encrypted under each person's own
data key, blind-index rows written, an outbox message each), then closed long enough ago for their
period to have ended. Then a retention run is timed as ``rfl retention run`` does it: the plan, then
batches of ``--batch`` persons, each one transaction with its audit entries appended to the log. Each
request holds two persons (the sought person and the enquirer), so twice as many persons are erased.
The default matcher is in use (no fitted model to forget). As a baseline in the same run, the time to
create the records is printed in records per second.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's rfl, not an installed one

from flask import Flask
from instances import bench_settings, fresh_database, ignore_audit

from rfl import create_app, migrate
from rfl.accounts import services as accounts
from rfl.accounts.models import Role, SocietyType, User
from rfl.audit.recorder import audited_transaction
from rfl.db import db
from rfl.extensions import app_services
from rfl.identity import Actor
from rfl.records.models import RecordStatus, TracingRequest
from rfl.records.services import TRACING_REQUESTS, create_record
from rfl.retention import services
from rfl.retention.models import Erasure, RetentionRun

ORIGIN = "rfl/erasure-bench"
CREATE_BATCH = 500
GIVEN = ["Mohammed", "Yusuf", "Tesfay", "Amina", "Oleksandr", "Fatima", "Abdulrahman", "Khalid", "Mariam"]
FAMILY = ["Al-Hassan", "Haddad", "Gebre", "Nasser", "Kovalenko", "Osman", "Bakri", "Tesfaye", "Mahmoud"]


def _actor(app: Flask) -> Actor:
    with app.app_context(), db.transaction() as session:
        society = accounts.create_society(
            session,
            app_services(app).keys,
            code="DE",
            name="Society DE",
            type=SocietyType.NATIONAL_SOCIETY,
            country="DE",
            audit=ignore_audit,
        )
        unusable = "!"  # no password: this user never logs in, it only created the records
        user = User(
            society_id=society.id,
            email="bench@example.org",
            name="Bench",
            role=Role.CASEWORKER,
            password_hash=unusable,
        )
        session.add(user)
        session.flush()
        return Actor(user.id, society.id, society.code, Role.CASEWORKER)


def _document(n: int) -> dict[str, object]:
    return {
        "sought_person": {
            "given_name": GIVEN[n % len(GIVEN)],
            "family_name": f"{FAMILY[(n // len(GIVEN)) % len(FAMILY)]}{n}",
            "sex": "M" if n % 2 else "F",
            "birth_date": str(1950 + n % 60),
            "father_name": GIVEN[(n + 3) % len(GIVEN)],
            "phone": f"+49 30 {n:07d}",
        },
        "enquirer": {"full_name": f"Enquirer {n}", "relationship": "sister", "phone": f"+49 40 {n:07d}"},
        "separation": {"date": "2019-05", "place": "Lampedusa"},
        "message": "We are looking for you.",
        "legal_basis": "vital_interest",
    }


def seed(app: Flask, records: int) -> float:
    """Create and close ``records`` tracing requests six years ago; returns records created per second."""
    actor = _actor(app)
    started = time.perf_counter()
    for first in range(0, records, CREATE_BATCH):
        with app.app_context(), db.transaction() as session:
            crypto = app_services(app).crypto(session)
            for n in range(first, min(records, first + CREATE_BATCH)):
                create_record(
                    session,
                    crypto,
                    actor,
                    TRACING_REQUESTS,
                    _document(n),
                    now=datetime.now(UTC),
                    audit=ignore_audit,
                )
    rate = records / (time.perf_counter() - started)
    long_ago = datetime.now(UTC) - timedelta(days=6 * 365)
    with app.app_context(), db.transaction() as session:
        session.execute(
            sa.update(TracingRequest).values(
                status=RecordStatus.CLOSED, closed_at=long_ago, created_at=long_ago
            )
        )
    return rate


def run(database_url: str, instance: Path, records: int, batch: int) -> None:
    migrate.upgrade(database_url)
    app = create_app(bench_settings(instance, database_url, ORIGIN), sleep=lambda _seconds: None)
    backend = make_url(database_url).get_backend_name()
    created = seed(app, records)
    print(f"erasure benchmark on {backend}: {records} closed tracing requests ({2 * records} persons)")
    print(f"  baseline: records created (encrypted, indexed) at {created:.0f} per second")
    retention = app_services(app).settings.retention
    with app.app_context():
        started = time.perf_counter()
        with audited_transaction() as (session, audit):
            run_row, _ = services.start_run(session, retention, now=datetime.now(UTC), audit=audit)
            run_id, planned = run_row.id, run_row.planned
        planning = time.perf_counter() - started
        started = time.perf_counter()
        erased = 0
        while True:
            with audited_transaction() as (session, audit):
                result = services.run_batch(
                    session,
                    app_services().crypto(session),
                    session.get_one(RetentionRun, run_id),
                    limit=batch,
                    now=datetime.now(UTC),
                    audit=audit,
                )
            erased += result.erased
            if result.done == 0:
                break
        erasing = time.perf_counter() - started
        with audited_transaction() as (session, audit):
            services.finish_run(
                session, session.get_one(RetentionRun, run_id), now=datetime.now(UTC), audit=audit
            )
            assert session.scalar(sa.select(sa.func.count()).select_from(Erasure)) == erased == planned  # noqa: S101
    print(f"  plan of {planned} persons: {planning:.2f} s")
    print(
        f"  erased {erased} persons in {erasing:.1f} s in batches of {batch}: {erased / erasing:.0f} persons"
        f" per second ({erased / erasing / created:.2f} x the creation rate, in records)"
    )
    db.engine_of(app).dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description="erasure throughput benchmark")
    parser.add_argument(
        "--records", type=int, default=10_000, help="closed tracing requests (2 persons each)"
    )
    parser.add_argument("--batch", type=int, default=200, help="persons erased per transaction")
    parser.add_argument("--small", action="store_true", help="a quick run: 300 records")
    parser.add_argument(
        "--pg", default=None, help="PostgreSQL server URL (a database is created and dropped)"
    )
    args = parser.parse_args()
    records = 300 if args.small else args.records
    with tempfile.TemporaryDirectory() as folder:
        instance = Path(folder)
        with fresh_database(args.pg, instance, "erasure_bench") as url:
            run(url, instance, records, args.batch)


if __name__ == "__main__":
    main()
