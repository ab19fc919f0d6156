"""How the system's costs grow with its data: one part per concern, each a subcommand.

    python benchmarks/growth_bench.py verify [--small] [--pg URL] [--sizes 10000,100000,1000000]
                                             [--via cli|service|both]

``verify``: audit verification time against the size of the log. A generator inserts synthetic audit
entries (correct leaf hashes, a signed checkpoint every 256 entries, as the service keeps them) in bulk
into a throwaway SQLite file and, with ``--pg``, a throwaway PostgreSQL database beside the one named;
the log grows through each size in turn and `rfl audit verify` (a subprocess: what an operator runs,
start-up included) and/or the service function (in process) is timed at each. Printed: wall and CPU
seconds (the CPU time does not depend on what else the machine runs; the database server's CPU is not
in it), CPU microseconds per entry, and each size's CPU time per entry relative to the previous size
(1.0 = linear), and the load average.
``--small`` is the CI smoke run (a few thousand entries, seconds).

Each part is a function registered in ``PARTS`` with its own arguments; parts share the throwaway
databases (``throwaway_databases``), the instance environment (``Instance``) and the curve printer
(``print_curve``).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from privacy import Checkpoint, CompactRange, leaf_hash, load_signing_key_file, sign_checkpoint
from rfl import create_app, migrate
from rfl.audit import verification
from rfl.audit.log import CHECKPOINT_INTERVAL, canonical_form
from rfl.audit.models import AuditCheckpoint, AuditEvent
from rfl.db import db, make_engine
from rfl.extensions import app_services
from rfl.settings import Settings

ORIGIN = "rfl/growth-bench"
INSERT_BATCH = 5_000

# --- shared by every part -------------------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    """An rfl instance (key files in a folder of its own) over one throwaway database."""

    label: str
    database_url: str
    folder: Path

    @property
    def env(self) -> dict[str, str]:
        return os.environ | {
            "RFL_ENV": "development",
            "RFL_INSTANCE_DIR": str(self.folder),
            "RFL_DATABASE_URL": self.database_url,
            "RFL_AUDIT_ORIGIN": ORIGIN,
            "RFL_LOG_LEVEL": "WARNING",
        }

    def settings(self) -> Settings:
        return Settings.from_env(self.env)

    def rfl(self, *args: str) -> str:
        """Run the ``rfl`` command line of this instance; fail loudly if it fails."""
        rfl = shutil.which("rfl", path=str(Path(sys.executable).parent)) or "rfl"
        done = subprocess.run([rfl, *args], env=self.env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"rfl {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
        return done.stdout


@contextmanager
def throwaway_databases(pg_base_url: str | None) -> Iterator[list[Instance]]:
    """A migrated SQLite file, and with ``pg_base_url`` a migrated PostgreSQL database beside it; each
    with its own instance folder. Everything is removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="rfl-growth-"))
    created_pg: str | None = None
    try:
        instances = [Instance("SQLite", f"sqlite:///{root / 'sqlite' / 'rfl.sqlite3'}", root / "sqlite")]
        if pg_base_url:
            created_pg = f"rfl_growth_{uuid.uuid4().hex[:8]}"
            _admin(pg_base_url, f'CREATE DATABASE "{created_pg}"')
            url = make_url(pg_base_url).set(database=created_pg).render_as_string(hide_password=False)
            instances.append(Instance("PostgreSQL", url, root / "postgresql"))
        for instance in instances:
            instance.folder.mkdir(parents=True)
            create_app(instance.settings())  # creates the key files (and migrates SQLite)
            migrate.upgrade(instance.database_url)
        yield instances
    finally:
        if created_pg is not None and pg_base_url is not None:
            _admin(pg_base_url, f'DROP DATABASE IF EXISTS "{created_pg}" WITH (FORCE)')
        shutil.rmtree(root, ignore_errors=True)


def _admin(base_url: str, statement: str) -> None:
    engine = make_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(statement))
    engine.dispose()


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds, and the CPU seconds spent (the same work on a busy machine takes longer
    by the clock, not in CPU)."""

    wall: float
    cpu: float


def print_curve(title: str, units: str, unit: str, rows: list[tuple[int, Timing]]) -> None:
    """Sizes against seconds (wall and CPU), the CPU time per ``unit``, and each size's CPU time per
    unit relative to the previous size's (1.0: linear growth; 10.0 at 10x the size: quadratic)."""
    print(f"\n{title}")
    print(f"{units:>12} {'wall s':>9} {'cpu s':>9} {'cpu us/' + unit:>14} {'ratio':>7}")
    previous: float | None = None
    for size, timing in rows:
        per = timing.cpu / size * 1e6
        ratio = f"{per / previous:7.2f}" if previous else f"{'':7}"
        print(f"{size:>12,} {timing.wall:>9.2f} {timing.cpu:>9.2f} {per:>14.1f} {ratio}")
        previous = per
    print(f"load average now: {' '.join(f'{load:.1f}' for load in os.getloadavg())}")


# --- verify ---------------------------------------------------------------------------------------


class SyntheticLog:
    """Appends synthetic audit entries in bulk, with the leaf hashes and checkpoints the service would
    have written (so verification does the full work and finds the log intact)."""

    ACTIONS = ("record.read", "record.create", "record.update", "search", "auth.login", "audit.read")

    def __init__(self, instance: Instance) -> None:
        settings = instance.settings()
        self._signer = load_signing_key_file(settings.audit_signing_key_file)
        self._engine = make_engine(instance.database_url)
        self._compact = CompactRange()
        self._societies = [uuid.uuid4() for _ in range(8)]
        self._users = [uuid.uuid4() for _ in range(200)]
        self._start = datetime(2026, 1, 1, tzinfo=UTC)

    @property
    def size(self) -> int:
        return self._compact.size

    def catch_up(self) -> None:
        """Take in entries the application appended itself (the CLI's audit.verify entries)."""
        with self._engine.connect() as connection:
            self._compact.extend(
                connection.scalars(
                    sa.select(AuditEvent.leaf_hash)
                    .where(AuditEvent.seq >= self.size)
                    .order_by(AuditEvent.seq)
                )
            )

    def grow_to(self, size: int) -> None:
        while self.size < size:
            events, checkpoints = self._batch(min(INSERT_BATCH, size - self.size))
            with self._engine.begin() as connection:
                connection.execute(sa.insert(AuditEvent), events)
                if checkpoints:
                    connection.execute(sa.insert(AuditCheckpoint), checkpoints)

    def _batch(self, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        events, checkpoints = [], []
        for _ in range(count):
            seq = self.size
            event = SimpleNamespace(
                seq=seq,
                id=uuid.uuid4(),
                occurred_at=self._start + timedelta(milliseconds=seq),
                actor_user_id=self._users[seq % len(self._users)],
                actor_society_id=self._societies[seq % 7],
                owner_society_id=self._societies[seq % 5] if seq % 3 else None,
                action=self.ACTIONS[seq % len(self.ACTIONS)],
                outcome="ok" if seq % 11 else "denied",
                object_type="sighting",
                object_id=str(uuid.uuid4()),
                fields=["family_name", "given_name"] if seq % 2 else [],
                request_id=uuid.uuid4().hex,
            )
            event.leaf_hash = leaf_hash(canonical_form(event))
            events.append(vars(event))
            self._compact.append(event.leaf_hash)
            if self.size % CHECKPOINT_INTERVAL == 0:
                checkpoints.append(self._checkpoint())
        return events, checkpoints

    def _checkpoint(self) -> dict[str, Any]:
        root = self._compact.root()
        return {
            "tree_size": self.size,
            "root_hash": root,
            "note": sign_checkpoint(Checkpoint(ORIGIN, self.size, root), self._signer),
            "created_at": self._start,
            "compact_range": self._compact.to_bytes(),
        }

    def close(self) -> None:
        self._engine.dispose()


def time_cli(instance: Instance) -> Timing:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    output = instance.rfl("audit", "verify")
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if not output.startswith("OK:"):
        raise SystemExit(f"verification failed: {output}")
    cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return Timing(elapsed, cpu)


def time_service(instance: Instance) -> Timing:
    app = create_app(instance.settings())
    with app.app_context():
        started, started_cpu = time.perf_counter(), time.process_time()
        with db.transaction(read_only=True) as session:
            result = verification.verify_log(
                session, app_services(app).audit_signer.verifier(), origin=ORIGIN, now=datetime.now(UTC)
            )
        timing = Timing(time.perf_counter() - started, time.process_time() - started_cpu)
    db.engine_of(app).dispose()
    if not result.ok:
        raise SystemExit(f"verification failed: {result.problems}")
    return timing


TIMERS: dict[str, tuple[str, Callable[[Instance], Timing]]] = {
    "cli": ("rfl audit verify (CLI, start-up included)", time_cli),
    "service": ("verification.verify_log (in process)", time_service),
}


def run_verify(args: argparse.Namespace) -> None:
    sizes = [1_000, 2_000, 5_000] if args.small else [int(s) for s in args.sizes.split(",")]
    vias = list(TIMERS) if args.via == "both" else [args.via]
    print(f"audit verification against log size; {os.cpu_count()} cores")
    with throwaway_databases(args.pg) as instances:
        for instance in instances:
            log = SyntheticLog(instance)
            curves: dict[str, list[tuple[int, Timing]]] = {via: [] for via in vias}
            try:
                for size in sizes:
                    started = time.perf_counter()
                    log.grow_to(size)
                    generated = time.perf_counter() - started
                    print(f"{instance.label}: {log.size:,} entries generated in {generated:.1f} s")
                    for via in vias:
                        curves[via].append((log.size, TIMERS[via][1](instance)))
                        log.catch_up()
            finally:
                log.close()
            for via in vias:
                print_curve(f"{TIMERS[via][0]}, {instance.label}", "entries", "entry", curves[via])


def _add_verify(parsers: Any) -> None:
    parser = parsers.add_parser("verify", help="audit verification time against the log's size")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated log sizes")
    parser.add_argument("--small", action="store_true", help="CI smoke run: 1k, 2k and 5k entries")
    parser.add_argument("--via", choices=["cli", "service", "both"], default="cli")
    parser.add_argument("--pg", default=None, help="PostgreSQL URL to create a throwaway database beside")
    parser.set_defaults(run=run_verify)


# --- entry point ----------------------------------------------------------------------------------

# Each part adds its subcommand (arguments, and ``run`` taking the parsed arguments).
PARTS: list[Callable[[Any], None]] = [_add_verify]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parts = parser.add_subparsers(dest="part", required=True)
    for add_part in PARTS:
        add_part(parts)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
