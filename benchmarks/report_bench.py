"""Time of the monitoring reports over many records (not a test).

    python benchmarks/report_bench.py [--records 100000] [--societies 30]
                                      [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
    python benchmarks/report_bench.py --small          # a quick run (CI): 2,000 records

Without ``--pg`` it runs on a SQLite file in a temporary folder. Reports read only the records' plain
skeleton, so the rows are written straight into their tables (no encryption, no matching): ``--records``
tracing requests and as many sightings spread over 2025-2026 and ``--societies`` societies, about one
match candidate per request, consents and disclosures. Then each report is run (counting, suppression,
and the answer built) for the whole network and for one society, by month over a year and by year over
two, three times each; prints the median, and the time of the CSV and PNG answers.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pycountry
import sqlalchemy as sa
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's rfl, not an installed one

from flask import Flask
from instances import bench_settings, fresh_database, ignore_audit

from privacy import ConsentMethod, ConsentStatus, Reason
from rfl import create_app, migrate
from rfl.accounts import services as accounts
from rfl.accounts.models import Role, SocietyType, User
from rfl.consent.models import Consent
from rfl.db import db
from rfl.disclosures.models import Disclosure, DisclosureOutcome
from rfl.extensions import app_services
from rfl.matches.models import MatchCandidate, MatchStatus
from rfl.records.models import Condition, LegalBasis, RecordStatus, Sighting, TracingRequest
from rfl.reports import charts, formats
from rfl.reports.periods import Granularity, Window
from rfl.reports.services import ReportName, ReportQuery, run_report

ORIGIN = "rfl/report-bench"
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
BATCH = 5000
REPEATS = 3


def _societies(app: Flask, count: int) -> tuple[list[str], list[uuid.UUID], uuid.UUID]:
    """``count`` national societies (one per country) and one user to have created every record."""
    codes = sorted(country.alpha_2 for country in pycountry.countries)[:count]
    with app.app_context(), db.transaction() as session:
        societies = [
            accounts.create_society(
                session,
                app_services(app).keys,
                code=code,
                name=f"Society {code}",
                type=SocietyType.NATIONAL_SOCIETY,
                country=code,
                audit=ignore_audit,
            )
            for code in codes
        ]
        # No password: this user never logs in, it only created the records.
        unusable = "!"
        user = User(
            society_id=societies[0].id, email="bench@example.org", name="Bench", role=Role.CASEWORKER,
            password_hash=unusable,
        )  # fmt: skip
        session.add(user)
        session.flush()
        return codes, [society.id for society in societies], user.id


def _moment(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.randrange(int(SPAN.total_seconds())))


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _insert(app: Flask, table: sa.Table, rows: Iterator[dict[str, Any]]) -> None:
    for batch in _batches(rows):
        with app.app_context(), db.transaction() as session:
            session.execute(sa.insert(table), batch)


def seed(app: Flask, records: int, societies: int, rng: random.Random) -> str:
    """Skeleton rows straight into their tables; ciphertext columns stay empty (reports never read them).
    Answers the first society's code."""
    codes, ids, user = _societies(app, societies)
    requests = [(uuid.uuid4(), rng.choice(ids), _moment(rng)) for _ in range(records)]
    sightings = [(uuid.uuid4(), rng.choice(ids), _moment(rng)) for _ in range(records)]
    common = {"created_by": user, "legal_basis": LegalBasis.VITAL_INTEREST, "flagged_minor": False}

    def request_rows() -> Iterator[dict[str, Any]]:
        for request_id, society, created in requests:
            status = rng.choice(list(RecordStatus))
            final = status in (RecordStatus.CLOSED, RecordStatus.DISCLOSED)
            yield common | {
                "id": request_id, "society_id": society, "status": status, "minor": rng.random() < 0.2,
                "version": 1, "match_version": 1, "created_at": created, "updated_at": created,
                "closed_at": created + timedelta(days=rng.randrange(1, 200)) if final else None,
                "sought_subject_id": uuid.uuid4(), "enquirer_subject_id": uuid.uuid4(),
            }  # fmt: skip

    def sighting_rows() -> Iterator[dict[str, Any]]:
        for sighting_id, society, created in sightings:
            condition = rng.choice(list(Condition))
            yield common | {
                "id": sighting_id, "society_id": society, "status": RecordStatus.OPEN,
                "minor": rng.random() < 0.3, "version": 1, "match_version": 1, "created_at": created,
                "updated_at": created, "closed_at": None, "found_subject_id": uuid.uuid4(),
                "condition_code": condition, "deceased": condition is Condition.DECEASED,
                "no_cross_border": False, "exclude": [],
            }  # fmt: skip

    _insert(app, TracingRequest.__table__, request_rows())  # type: ignore[arg-type]
    _insert(app, Sighting.__table__, sighting_rows())  # type: ignore[arg-type]
    candidates = _candidates(app, rng, requests, sightings)
    _consents_and_disclosures(app, rng, sightings, candidates, user)
    return codes[0]


def _candidates(
    app: Flask,
    rng: random.Random,
    requests: list[tuple[uuid.UUID, uuid.UUID, datetime]],
    sightings: list[tuple[uuid.UUID, uuid.UUID, datetime]],
) -> list[tuple[uuid.UUID, tuple[Any, ...], tuple[Any, ...], datetime]]:
    confirmed = []

    def rows() -> Iterator[dict[str, Any]]:
        for request in requests:
            sighting = rng.choice(sightings)
            created = max(request[2], sighting[2]) + timedelta(hours=rng.randrange(1, 500))
            status = rng.choice(list(MatchStatus))
            decided = created + timedelta(days=rng.randrange(1, 60))
            candidate_id = uuid.uuid4()
            if status is MatchStatus.CONFIRMED:
                confirmed.append((candidate_id, request, sighting, decided))
            yield {
                "id": candidate_id, "tracing_request_id": request[0], "sighting_id": sighting[0],
                "request_society_id": request[1], "sighting_society_id": sighting[1],
                "request_match_version": 1, "sighting_match_version": 1, "match_probability": 0.9,
                "match_weight": 3.0, "model_version": "bench", "explanation": [], "status": status,
                "subject_id": uuid.uuid4(), "version": 1, "created_at": created, "updated_at": created,
                "confirmed_at": decided if status is not MatchStatus.PROPOSED else None,
                "approved_at": decided if status is MatchStatus.CONFIRMED and rng.random() < 0.3 else None,
            }  # fmt: skip

    _insert(app, MatchCandidate.__table__, rows())  # type: ignore[arg-type]
    return confirmed


def _consents_and_disclosures(
    app: Flask,
    rng: random.Random,
    sightings: list[tuple[uuid.UUID, uuid.UUID, datetime]],
    confirmed: list[tuple[uuid.UUID, tuple[Any, ...], tuple[Any, ...], datetime]],
    user: uuid.UUID,
) -> None:
    def consent_rows() -> Iterator[dict[str, Any]]:
        for sighting_id, society, created in rng.sample(sightings, len(sightings) // 3):
            yield {
                "id": uuid.uuid4(), "sighting_id": sighting_id, "society_id": society,
                "recipient": "partners", "decision": rng.choice(list(ConsentStatus)), "scope": [],
                "method": rng.choice(list(ConsentMethod)), "expires_at": None, "recorded_by": user,
                "seal": b"bench", "recorded_at": created + timedelta(days=rng.randrange(1, 90)),
            }  # fmt: skip

    denials = [r.value for r in Reason if r not in (Reason.CONSENT_COVERS_REQUEST, Reason.FATE_OF_DECEASED)]

    def disclosure_rows() -> Iterator[dict[str, Any]]:
        for candidate_id, request, sighting, decided in confirmed:
            allowed = rng.random() < 0.7
            yield {
                "id": uuid.uuid4(), "match_candidate_id": candidate_id, "tracing_request_id": request[0],
                "sighting_id": sighting[0], "request_society_id": request[1],
                "sighting_society_id": sighting[1],
                "categories": ["alive_and_well"], "consent_id": None, "officer_user_id": user,
                "outcome": DisclosureOutcome.ALLOWED if allowed else DisclosureOutcome.DENIED,
                "reasons": [Reason.CONSENT_COVERS_REQUEST.value] if allowed else rng.sample(denials, 2),
                "decided_at": decided + timedelta(days=rng.randrange(1, 30)),
            }  # fmt: skip

    _insert(app, Consent.__table__, consent_rows())  # type: ignore[arg-type]
    _insert(app, Disclosure.__table__, disclosure_rows())  # type: ignore[arg-type]


def _median_seconds(work: Callable[[], object]) -> float:
    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def measure(app: Flask, society: str | None, window: Window, answer: str) -> float:
    def once() -> object:
        with app.app_context(), db.transaction(read_only=True) as session:
            for name in ReportName:
                report = run_report(
                    session, None, ReportQuery(name, society, window, answer), threshold=5, audit=ignore_audit
                )
                if answer == "csv":
                    formats.as_csv(report)
                elif answer == "png":
                    charts.render_png(report)
                else:
                    formats.as_document(report)
        return None

    return _median_seconds(once)


def run(database_url: str, instance: Path, records: int, societies: int) -> None:
    migrate.upgrade(database_url)
    app = create_app(bench_settings(instance, database_url, ORIGIN), sleep=lambda _seconds: None)
    started = time.perf_counter()
    first = seed(app, records, societies, random.Random(16))
    seeded = time.perf_counter() - started
    backend = make_url(database_url).get_backend_name()
    print(
        f"report benchmark on {backend}: {records} tracing requests, {records} sightings, {records} "
        f"candidates, {records // 3} consents over {societies} societies (seeded in {seeded:.1f} s)"
    )
    by_month = Window(date(2026, 1, 1), date(2026, 12, 31), Granularity.MONTH)
    by_year = Window(date(2025, 1, 1), date(2026, 12, 31), Granularity.YEAR)
    for label, society, window, answer in (
        ("network, 12 months", None, by_month, "json"),
        ("network, 2 years by year", None, by_year, "json"),
        ("one society, 12 months", first, by_month, "json"),
        ("network, 12 months, CSV", None, by_month, "csv"),
        ("network, 12 months, PNG", None, by_month, "png"),
    ):
        seconds = measure(app, society, window, answer)
        print(f"  all four reports, {label}: median {seconds:.2f} s ({seconds / 4 * 1e3:.0f} ms a report)")
    for name in ReportName:

        def one(name: ReportName = name) -> object:
            with app.app_context(), db.transaction(read_only=True) as session:
                return run_report(
                    session, None, ReportQuery(name, None, by_month, "json"), threshold=5, audit=ignore_audit
                )

        print(f"  {name.value}, network, 12 months: median {_median_seconds(one) * 1e3:.0f} ms")
    db.engine_of(app).dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description="monitoring report benchmark")
    parser.add_argument(
        "--records", type=int, default=100_000, help="tracing requests (and as many sightings)"
    )
    parser.add_argument("--societies", type=int, default=30)
    parser.add_argument("--small", action="store_true", help="a quick run: 2,000 records, 5 societies")
    parser.add_argument(
        "--pg", default=None, help="PostgreSQL server URL (a database is created and dropped)"
    )
    args = parser.parse_args()
    records, societies = (2_000, 5) if args.small else (args.records, args.societies)
    with tempfile.TemporaryDirectory() as folder:
        instance = Path(folder)
        with fresh_database(args.pg, instance, "report_bench") as url:
            run(url, instance, records, societies)


if __name__ == "__main__":
    main()
