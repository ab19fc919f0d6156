"""Records imported per second from PFIF and from CSV (not a test).

    python benchmarks/exchange_bench.py [--records 10000] [--batch 200] [--formats pfif csv]
                                        [--baseline-records N] [--proposal-budget SECONDS]
                                        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
    python benchmarks/exchange_bench.py --small          # a quick run (CI): 100 records

Each format gets a fresh database (a SQLite file in a temporary folder, or a new PostgreSQL database
beside ``--pg``) with one society and one officer. A synthetic list of ``--records`` people (half
sought, half found for PFIF; found people for the CSV list) is imported exactly as ``rfl import`` does
it: the file parsed (defusedxml) and every record validated by the API's schemas, then created in
committed batches, each record encrypted under its own data key, blind-indexed, audited and queued in
the outbox. The matching proposals for the imported records are then drained and timed apart (all of
them, or for ``--proposal-budget`` seconds: their rate is per record).

Baseline, measured in the same run: the same documents created one by one through the records
service (what an HTTP create does, without HTTP), committed in the same batches, so the ratio is the
cost of the exchange machinery itself (parsing, validation, source keys, job bookkeeping).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's rfl, not an installed one

from flask import Flask
from instances import SECRET, analyze, bench_settings, fresh_database, ignore_audit

from rfl import create_app, migrate
from rfl.accounts import services as accounts
from rfl.accounts.models import Role, SocietyType
from rfl.accounts.passwords import Argon2Parameters
from rfl.audit.recorder import audited_transaction
from rfl.db import db
from rfl.exchange import services as exchange
from rfl.exchange import tabular
from rfl.exchange.models import ImportFormat, ImportMode
from rfl.exchange.schemas import validate_record
from rfl.exchange.worker import run_import
from rfl.extensions import app_services
from rfl.matches.worker import drain
from rfl.records import services as records
from rfl.records.models import LegalBasis

ORIGIN = "rfl/exchange-bench"
DRAIN_STEP = 200  # proposals between two looks at --proposal-budget
GIVEN = [
    "Mohammed",
    "Ahmed",
    "Yonas",
    "Tesfaye",
    "Abdi",
    "Amina",
    "Fatima",
    "Saba",
    "Mariam",
    "Omar",
    "Ali",
    "Hassan",
    "Ibrahim",
    "Yusuf",
    "Khalid",
    "Aisha",
    "Hawa",
    "Selam",
    "Senait",
    "Dawit",
    "Oleksandr",
    "Olena",
    "Bilal",
    "Samir",
    "Nour",
    "Rania",
    "Issa",
    "Musa",
    "Halima",
    "Zainab",
]
FAMILY_STEMS = [
    "Al-Hassan",
    "Tesfamariam",
    "Kidane",
    "Osman",
    "Warsame",
    "Haddad",
    "Gebremedhin",
    "Abdullahi",
    "Mahmoud",
    "Bakri",
    "Tekle",
    "Yohannes",
    "Farah",
    "Nur",
    "Kovalenko",
]
NATIONALITIES = ["SY", "ER", "SO", "SD", "AF", "UA", "ET", "NG", "ML", "GN"]
CSV_MAPPING = {
    "record_type": "sighting",
    "source_domain": "bench.example.org",
    "source_id_column": "reg",
    "columns": {
        "given": "person.given_name",
        "family": "person.family_name",
        "sex": "person.sex",
        "born": "person.birth_date",
        "nationality": "person.nationality",
        "father": "person.father_name",
        "registered": "registration.date",
    },
    "values": {"condition": "alive", "registration.country": "IT"},
}


def people(count: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    family = [f"{stem}{suffix}" for stem in FAMILY_STEMS for suffix in ("", "i", "a", "o", "u", "y", "e")]
    return [
        {
            "id": f"p{index}",
            "given": rng.choice(GIVEN),
            "family": rng.choice(family) + rng.choice(("", "", "", f"-{rng.choice(GIVEN)}")),
            "father": rng.choice(GIVEN),
            "sex": rng.choice(("M", "F")),
            "born": str(rng.randint(1950, 2006)),
            "nationality": rng.choice(NATIONALITIES),
            "registered": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "sought": "yes" if index % 2 == 0 else "",
        }
        for index in range(count)
    ]


def pfif_file(persons: list[dict[str, str]]) -> bytes:
    sex = {"M": "male", "F": "female"}
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<pfif xmlns="http://zesty.ca/pfif/1.4">']
    for person in persons:
        status = "information_sought" if person["sought"] else "believed_alive"
        parts.append(
            f"<person><person_record_id>bench.example.org/{person['id']}</person_record_id>"
            f"<author_name>Bench partner</author_name>"
            f"<given_name>{person['given']}</given_name><family_name>{person['family']}</family_name>"
            f"<sex>{sex[person['sex']]}</sex><date_of_birth>{person['born']}</date_of_birth>"
            f"<note><note_record_id>bench.example.org/n{person['id']}</note_record_id>"
            f"<source_date>{person['registered']}T10:00:00Z</source_date><status>{status}</status></note>"
            "</person>"
        )
    parts.append("</pfif>\n")
    return "\n".join(parts).encode()


def csv_file(persons: list[dict[str, str]]) -> bytes:
    rows = ["reg,given,family,sex,born,nationality,father,registered"]
    rows.extend(
        ",".join(
            p[name]
            for name in ("id", "given", "family", "sex", "born", "nationality", "father", "registered")
        )
        for p in persons
    )
    return ("\n".join(rows) + "\n").encode()


def make_app(url: str, instance: Path, batch: int) -> tuple[Flask, Any]:
    migrate.upgrade(url)
    app = create_app(
        bench_settings(
            instance,
            url,
            ORIGIN,
            import_batch=batch,
            password_hashing=Argon2Parameters(time_cost=1, memory_cost_kib=8, parallelism=1),
        )
    )
    with app.app_context(), db.transaction() as session:
        society = accounts.create_society(
            session,
            app_services(app).keys,
            code="IT",
            name="Bench",
            type=SocietyType.NATIONAL_SOCIETY,
            country="IT",
            audit=ignore_audit,
        )
        user = accounts.create_user(
            session,
            app_services(app).passwords,
            society=society,
            email="officer@bench.example.org",
            name="Officer",
            role=Role.TRACING_OFFICER,
            password="bench-password-long-enough",  # noqa: S106 (a throwaway instance)
            audit=ignore_audit,
        )
        actor = accounts.actor_of(user)
    return app, actor


def import_run(
    app: Flask, actor: Any, file_format: ImportFormat, data: bytes, proposal_budget: float | None
) -> tuple[float, float, int, int]:
    """Seconds to import, seconds proposing, records imported, records proposed for."""
    mapping = tabular.column_mapping(CSV_MAPPING) if file_format is ImportFormat.CSV else None
    with app.app_context():
        with audited_transaction() as (session, audit):
            job = exchange.start_job(
                session,
                app_services().crypto(session),
                actor,
                file_format=file_format,
                mode=ImportMode.VALID_ONLY,
                legal_basis=LegalBasis.VITAL_INTEREST,
                mapping=mapping,
                payload=None,
                audit=audit,
            )
            job_id = job.id
        started = time.perf_counter()
        summary = run_import(job_id, data)
        imported = time.perf_counter()
        # Printed now: at 100k records the proposals that follow take as long again.
        print(
            f"{file_format.value}: {summary.imported} records imported in {imported - started:.1f} s",
            flush=True,
        )
        analyze()  # as autovacuum would after a bulk load: the proposals' blocking queries need statistics
        proposals = drain_within(proposal_budget)
        proposed = time.perf_counter()
    if summary.rejected:
        raise SystemExit(f"the synthetic list had rejected records: {summary.report[:3]}")
    if proposals < summary.imported:
        print(
            f"{file_format.value}: proposals stopped at the budget: {proposals} of {summary.imported} "
            f"records in {proposed - imported:.1f} s = {proposals / (proposed - imported):.1f} records/s",
            flush=True,
        )
    return imported - started, proposed - imported, summary.imported, proposals


def drain_within(budget: float | None) -> int:
    """Drain the proposals (all of them, or as many as ``budget`` seconds allow); returns how many."""
    started, done = time.perf_counter(), 0
    while budget is None or time.perf_counter() - started < budget:
        report = drain(limit=DRAIN_STEP)
        done += report.processed
        if report.processed + report.failed < DRAIN_STEP:
            break
    return done


def baseline_run(app: Flask, actor: Any, data: bytes, batch: int) -> float:
    """Seconds to create the same (already parsed and validated) records through the records service."""
    with app.app_context():
        incoming, _ = exchange.read_file(
            ImportFormat.PFIF, data, mapping=None, legal_basis=LegalBasis.VITAL_INTEREST, secret=SECRET
        )
        documents = [(r.kind, validate_record(r.kind, r.document)[0]) for r in incoming]
        started = time.perf_counter()
        for start in range(0, len(documents), batch):
            with audited_transaction() as (session, audit):
                crypto = app_services().crypto(session)
                for kind, document in documents[start : start + batch]:
                    records.create_record(
                        session,
                        crypto,
                        actor,
                        records.kind_named(kind),
                        document or {},
                        now=app_services().clock(),
                        audit=audit,
                    )
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument(
        "--pg", default=None, help="A PostgreSQL URL to create the benchmark databases beside."
    )
    parser.add_argument("--small", action="store_true", help="100 records (CI smoke).")
    parser.add_argument(
        "--proposal-budget",
        type=float,
        default=None,
        help="Seconds of proposals after each import (at 100k records draining them all takes hours); "
        "their rate is per record.",
    )
    parser.add_argument("--formats", nargs="+", choices=("pfif", "csv"), default=["pfif", "csv"])
    parser.add_argument(
        "--baseline-records",
        type=int,
        default=None,
        help="Create only the first N records for the baseline (at 100k the baseline alone takes as long "
        "as an import); its rate is per record, so it compares at any N.",
    )
    args = parser.parse_args()
    count = 100 if args.small else args.records
    persons = people(count, seed=15)
    baseline_persons = persons[: args.baseline_records] if args.baseline_records else persons
    backend = "PostgreSQL" if args.pg else "SQLite"
    print(f"{count} records per run on {backend}, batches of {args.batch}")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        results: dict[str, tuple[float, float, int, int]] = {}
        for name, file_format, make_file in (
            ("pfif", ImportFormat.PFIF, pfif_file),
            ("csv", ImportFormat.CSV, csv_file),
        ):
            if name not in args.formats:
                continue
            data = make_file(persons)
            with fresh_database(args.pg, root, f"exchange_bench_{name}") as url:
                app, actor = make_app(url, root / name, args.batch)
                results[name] = import_run(app, actor, file_format, data, args.proposal_budget)
                db.engine_of(app).dispose()
        with fresh_database(args.pg, root, "exchange_bench_baseline") as url:
            app, actor = make_app(url, root / "baseline", args.batch)
            baseline = baseline_run(app, actor, pfif_file(baseline_persons), args.batch)
            db.engine_of(app).dispose()
    base_rate = len(baseline_persons) / baseline
    print(
        f"baseline (records service, parsed and validated input, {len(baseline_persons)} records): "
        f"{base_rate:8.0f} records/s"
    )
    for name, (seconds, proposing, imported, proposed) in results.items():
        rate = imported / seconds
        print(
            f"{name:5} import: {rate:8.0f} records/s ({seconds:.1f} s, {rate / base_rate:.2f} x baseline); "
            f"proposals: {proposed / proposing if proposing else float('nan'):8.1f} records/s "
            f"({proposed} of {imported} in {proposing:.1f} s)"
        )


if __name__ == "__main__":
    main()
