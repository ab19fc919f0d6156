"""Cost of key changes (not a test): one locked key-file change, and `rfl keys rotate` over many data keys.

    python benchmarks/rotation_bench.py [--keys 10000] [--batch-size 500]
                                        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Without ``--pg`` it runs on a SQLite file in a temporary folder. Prints the median time of one key-file
change (exclusive lock, reread, replace with fsync of the file and of its folder) and the rotation's
data keys per second, rewrapped in committed batches. The rotation's wait for other processes to reload
the key file (one check interval) is skipped here: no other process runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's rfl, not an installed one

from flask import Flask
from instances import bench_settings, fresh_database

from privacy import FieldVault, Subject
from rfl import create_app, migrate
from rfl.accounts import services as accounts
from rfl.cli import main as rfl_cli
from rfl.crypto.keystore import DatabaseKeyStore
from rfl.db import db
from rfl.extensions import app_services

ORIGIN = "rfl/rotation-bench"


def _create_data_keys(app: Flask, society_id: uuid.UUID, count: int) -> None:
    ring = str(society_id)
    done = 0
    while done < count:
        step = min(1000, count - done)
        with app.app_context(), db.transaction() as session:
            vault = FieldVault(app_services(app).keys, DatabaseKeyStore(session))
            for _ in range(step):
                vault.ensure_subject_key(Subject(ring, str(uuid.uuid4())))
        done += step


def _key_file_change_seconds(app: Flask, changes: int) -> list[float]:
    provider = app_services(app).keys
    timings = []
    for i in range(changes):
        started = time.perf_counter()
        provider.add_ring(f"bench-scratch-{i}")
        timings.append(time.perf_counter() - started)
    return timings


def run(database_url: str, instance: Path, keys: int, batch_size: int) -> None:
    migrate.upgrade(database_url)
    app = create_app(bench_settings(instance, database_url, ORIGIN), sleep=lambda _seconds: None)
    runner = app.test_cli_runner()
    created = runner.invoke(rfl_cli, ["societies", "create", "--country", "IT", "--name", "Bench"])
    if created.exit_code != 0:
        raise SystemExit(created.output)
    with app.app_context(), db.transaction() as session:
        society_id = accounts.get_society_by_code(session, "IT").id
    _create_data_keys(app, society_id, keys)

    changes = _key_file_change_seconds(app, 50)
    started = time.perf_counter()
    rotated = runner.invoke(rfl_cli, ["keys", "rotate", "--society", "IT", "--batch-size", str(batch_size)])
    elapsed = time.perf_counter() - started
    if rotated.exit_code != 0:
        raise SystemExit(rotated.output)
    db.engine_of(app).dispose()

    backend = make_url(database_url).get_backend_name()
    print(f"rotation benchmark on {backend}: {keys} data keys, batches of {batch_size}")
    print(
        f"key-file change (lock, reread, replace, fsyncs): median {statistics.median(changes) * 1e3:.1f} ms"
    )
    print(f"rfl keys rotate: {elapsed:.2f} s, {keys / elapsed:.0f} data keys/s")
    print(rotated.output.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description="key change and KEK rotation benchmark")
    parser.add_argument("--keys", type=int, default=10_000, help="data keys to rewrap")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument(
        "--pg", default=None, help="PostgreSQL server URL (a database is created and dropped)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        instance = Path(folder)
        with fresh_database(args.pg, instance, "rotation_bench") as url:
            run(url, instance, args.keys, args.batch_size)


if __name__ == "__main__":
    main()
