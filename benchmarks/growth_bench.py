"""How the system's costs grow with its data: one part per concern, each a subcommand.

    python benchmarks/growth_bench.py verify [--small] [--pg URL] [--sizes 10000,100000,1000000]
                                             [--via cli|service|both]
    python benchmarks/growth_bench.py records [--small] [--pg URL] [--sizes 1000,10000,100000]
                                              [--clients 4] [--requests 200] [--pg-only]
                                              [--restricted-every N]

``verify``: audit verification time against the size of the log. A generator inserts synthetic audit
entries (correct leaf hashes, a signed checkpoint every 256 entries, as the service keeps them) in bulk
into a throwaway SQLite file and, with ``--pg``, a throwaway PostgreSQL database beside the one named;
the log grows through each size in turn and `rfl audit verify` (a subprocess: what an operator runs,
start-up included) and/or the service function (in process) is timed at each. Printed: wall and CPU
seconds (the CPU time does not depend on what else the machine runs; the database server's CPU is not
in it), CPU microseconds per entry, and each size's CPU time per entry relative to the previous size
(1.0 = linear), and the load average.
``--small`` is the CI smoke run (a few thousand entries, seconds).

``records``: create, read and name-search latency against the number of sightings. Sightings of two
societies, Italy's and Greece's, half each (Italian, Greek, Arabic and other names drawn from short
lists, so names repeat as they do) are created through the record service in bulk; at each size
``--clients`` processes, each running the whole application (WSGI app through Flask's test client:
authentication, encryption, blind indexes, the audit log, one transaction per request; no network),
send ``--requests`` requests of each kind between them: an Italian caseworker's create and read, and an
Italian tracing officer's search made for an Italian tracing request (Italy's own hits decrypted and
ranked, Greece's in bands); and ``/healthz`` as the baseline of the same run (the machine's load moves
every figure; the ratio to the baseline moves less). Printed: p50 and p95 milliseconds, requests per
second and p95 as a multiple of the baseline's, per kind and size. ``--restricted-every N`` makes every
N-th sighting ``no_cross_border`` (Greece's then withheld from Italy's searches, and audited as such).
``--small`` is the CI smoke run (300 sightings, a few requests).

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
def throwaway_databases(pg_base_url: str | None, *, sqlite: bool = True) -> Iterator[list[Instance]]:
    """A migrated SQLite file (unless ``sqlite`` is false), and with ``pg_base_url`` a migrated
    PostgreSQL database beside it; each with its own instance folder. Everything is removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="rfl-growth-"))
    created_pg: str | None = None
    try:
        instances = []
        if sqlite:
            instances.append(
                Instance("SQLite", f"sqlite:///{root / 'sqlite' / 'rfl.sqlite3'}", root / "sqlite")
            )
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

    def __init__(self, instance: Instance, *, officers: int = 1) -> None:
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
                object_ids=None,
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


# --- records: create, read and search at growth ---------------------------------------------------

GIVEN = (  # noqa: SIM905 (a list of names reads best as one text)
    "Giuseppe Marco Luca Francesco Antonio Maria Giulia Chiara Sofia Alessandro Giorgos Dimitris "
    "Nikolaos Eleni Katerina Ioanna Konstantinos Mohammed Ahmed Fatima Aisha Omar Yusuf Khaled Amina "
    "Hassan Ali Layla Tesfaye Yonas Kidane Abdullahi Mariam Ibrahim Samir Nour"
).split()
FAMILY = (  # noqa: SIM905
    "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Papadopoulos Papadakis "
    "Georgiou Nikolaidis Pappas Vlachos Al-Hassan Haddad Khalil Mansour Nasser Saleh Hamdan Tekle "
    "Haile Abebe Mohamud Farah Osman Yilmaz Kaya Demir Aziz Karimi Hosseini Rahimi"
).split()
# The requests' own limits would stop a benchmark: they are what the bench measures past.
UNLIMITED_SEARCHES = {
    "RFL_SEARCH_LIMIT_PER_USER": "100000000",
    "RFL_SEARCH_LIMIT_PER_REQUEST": "100000000",
}


def _sighting(number: int, *, restricted_every: int = 0) -> dict[str, Any]:
    """The ``number``-th sighting; with ``restricted_every`` (n), every n-th one is ``no_cross_border``."""
    restrictions = {"no_cross_border": bool(restricted_every) and number % restricted_every == 0}
    return {
        "restrictions": restrictions,
        "person": {
            "given_name": GIVEN[number % len(GIVEN)],
            "family_name": FAMILY[(number * 7 + number // len(GIVEN)) % len(FAMILY)],
            "sex": "FM"[number % 2],
            "age": 20 + number % 50,
        },
        "registration": {"date": "2024-03-02", "place": "Reception centre", "country": "IT"},
        "condition": "alive",
        "whereabouts": {"current_place": "Bari"},
        "legal_basis": "vital_interest",
    }


class Population:
    """Societies, users and sightings of one instance, grown through the record service."""

    SOCIETIES = ("IT", "GR", "DE")

    def __init__(self, instance: Instance, *, officers: int = 1, restricted_every: int = 0) -> None:
        from rfl.accounts import services as accounts
        from rfl.accounts.models import Role, SocietyType

        self._instance = instance
        self._restricted_every = restricted_every
        self.app = create_app(self._settings())
        self.count = 0
        self.tokens: dict[str, str] = {}
        # One Italian tracing officer and one request per client: a user's (and a request's) searches
        # are counted one at a time, so clients sharing one user would wait for each other.
        self.searchers: list[tuple[str, str]] = []
        self.sighting_ids: list[str] = []
        with self.app.app_context(), db.transaction() as session:
            services = app_services(self.app)
            users = {}
            for code in self.SOCIETIES:
                society = accounts.create_society(
                    session,
                    services.keys,
                    code=code,
                    name=code,
                    type=SocietyType.NATIONAL_SOCIETY,
                    country=code,
                    audit=_unaudited,
                )
                for role in (Role.CASEWORKER, Role.TRACING_OFFICER):
                    users[code, role] = accounts.create_user(
                        session,
                        services.passwords,
                        society=society,
                        email=f"{role}@{code}.example.org",
                        name=role,
                        role=role,
                        password="growth bench password 1",  # noqa: S106 (a throwaway database's user)
                        audit=_unaudited,
                    )
            self._actors = {
                code: accounts.actor_of(users[code, Role.CASEWORKER]) for code in self.SOCIETIES[:2]
            }
            for number in range(officers):
                users["IT", f"officer-{number}"] = accounts.create_user(
                    session,
                    services.passwords,
                    society=session.get_one(type(society), self._actors["IT"].society_id),
                    email=f"officer-{number}@IT.example.org",
                    name="officer",
                    role=Role.TRACING_OFFICER,
                    password="growth bench password 1",  # noqa: S106 (a throwaway database's user)
                    audit=_unaudited,
                )
            for (code, role), user in users.items():
                issued = accounts.issue_token(session, user, now=datetime.now(UTC), ttl=timedelta(days=1))
                self.tokens[f"{code}-{role}"] = issued.token
        for number in range(officers):
            officer = {"Authorization": f"Bearer {self.tokens[f'IT-officer-{number}']}"}
            created = self.app.test_client().post(
                "/api/v1/tracing-requests", headers=officer, json=_tracing_request()
            )
            self.searchers.append((self.tokens[f"IT-officer-{number}"], created.json["id"]))

    def settings_env(self) -> dict[str, str]:
        return self._instance.env | UNLIMITED_SEARCHES | {"RFL_LOG_LEVEL": "ERROR"}

    def _settings(self) -> Settings:
        return Settings.from_env(self.settings_env())

    def grow_to(self, size: int) -> None:
        from rfl.outbox.models import OutboxMessage
        from rfl.records import services as records
        from rfl.records.schemas import SightingInputSchema

        schema = SightingInputSchema()
        with self.app.app_context():
            while self.count < size:
                with db.transaction() as session:
                    crypto = app_services(self.app).crypto(session)
                    for _ in range(min(500, size - self.count)):
                        actor = self._actors[self.SOCIETIES[self.count % 2]]
                        view = records.create_record(
                            session,
                            crypto,
                            actor,
                            records.SIGHTINGS,
                            schema.load(_sighting(self.count, restricted_every=self._restricted_every)),
                            now=datetime.now(UTC),
                            audit=_unaudited,
                        )
                        if len(self.sighting_ids) < 1000 and self.count % 2 == 0:
                            self.sighting_ids.append(str(view.id))
                        self.count += 1
                    # Proposals are not what this part measures: the outbox is emptied, not drained.
                    session.execute(sa.delete(OutboxMessage))
        if self._instance.database_url.startswith("postgresql"):
            # As autovacuum would (it may be off here): statistics for the planner, and pages marked
            # all-visible, without which a search's index-only reads go back to the table.
            _admin(self._instance.database_url, "VACUUM ANALYZE")

    def close(self) -> None:
        db.engine_of(self.app).dispose()


def _tracing_request() -> dict[str, Any]:
    return {
        "sought_person": {"given_name": "Giuseppe", "family_name": "Rossi", "birth_date": "1990"},
        "enquirer": {"full_name": "Anna Rossi", "relationship": "sister"},
        "separation": {"date": "2023-09", "place": "Lampedusa"},
        "legal_basis": "vital_interest",
    }


def _unaudited(_entry: Any) -> None:
    """Growing the data is set-up, not what is measured: it is not audited."""


@dataclass(frozen=True)
class Job:
    """What one client process sends: ``count`` requests of one kind."""

    env: dict[str, str]
    kind: str
    count: int
    offset: int
    tokens: dict[str, str]
    searcher: tuple[str, str]  # the officer's token and the request searched for
    sighting_ids: list[str]


def _client(job: Job) -> tuple[list[float], float, float]:
    """One client: its own application (as a server worker would be), timing each request after one
    untimed warm-up request (start-up: imports, the matcher's model, connections). Returns the
    latencies and when the timed requests began and ended (wall clock)."""
    app = create_app(Settings.from_env(job.env))
    client = app.test_client()
    caseworker = {"Authorization": f"Bearer {job.tokens['IT-caseworker']}"}
    officer = {"Authorization": f"Bearer {job.searcher[0]}"}

    def send(number: int) -> None:
        if job.kind == "health":
            response = client.get("/healthz")
        elif job.kind == "create":
            response = client.post("/api/v1/sightings", headers=caseworker, json=_sighting(number))
        elif job.kind == "read":
            record_id = job.sighting_ids[number % len(job.sighting_ids)]
            response = client.get(f"/api/v1/sightings/{record_id}", headers=caseworker)
        else:
            query = f"{GIVEN[number % len(GIVEN)]} {FAMILY[(number * 3) % len(FAMILY)]}"
            body = {"q": query, "tracing_request_id": job.searcher[1]}
            response = client.post("/api/v1/sightings/search", headers=officer, json=body)
        if response.status_code >= 400:
            raise SystemExit(f"{job.kind} answered {response.status_code}")
        # Not closed: closing would run the proposals after a create, which this part does not measure.

    send(job.offset + job.count)  # warm-up
    latencies = []
    began = time.time()
    for number in range(job.offset, job.offset + job.count):
        started = time.perf_counter()
        send(number)
        latencies.append(time.perf_counter() - started)
    ended = time.time()
    db.engine_of(app).dispose()
    return latencies, began, ended


def measure(population: Population, kind: str, *, clients: int, requests: int) -> tuple[float, float, float]:
    """(p50 ms, p95 ms, requests per second) of ``requests`` requests of ``kind`` from ``clients``."""
    import multiprocessing
    import statistics

    share = max(1, requests // clients)
    jobs = [
        Job(
            population.settings_env(),
            kind,
            share,
            index * (share + 1) + population.count,
            population.tokens,
            population.searchers[index % len(population.searchers)],
            population.sighting_ids,
        )
        for index in range(clients)
    ]
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        results = pool.map(_client, jobs)
    latencies = sorted(latency for result, _, _ in results for latency in result)
    elapsed = max(ended for _, _, ended in results) - min(began for _, began, _ in results)
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    return statistics.median(latencies) * 1000, p95 * 1000, len(latencies) / elapsed


def run_records(args: argparse.Namespace) -> None:
    sizes = [300] if args.small else [int(s) for s in args.sizes.split(",")]
    requests = 8 if args.small else args.requests
    print(
        f"record create, read and search against the number of sightings; {os.cpu_count()} cores, "
        f"{args.clients} clients, {requests} requests of each kind per size"
    )
    with throwaway_databases(args.pg, sqlite=not (args.pg and args.pg_only)) as instances:
        for instance in instances:
            population = Population(instance, officers=args.clients, restricted_every=args.restricted_every)
            margin = " " * (len(instance.label) + 1)
            try:
                for size in sizes:
                    started = time.perf_counter()
                    population.grow_to(size)
                    took = time.perf_counter() - started
                    print(f"{instance.label}: {population.count:,} sightings in {took:.0f} s")
                    header = (
                        f"{'sightings':>10} {'kind':>7} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>7} {'p95 x':>6}"
                    )
                    print(f"{margin} {header}")
                    baseline = 0.0
                    for kind in ("health", "create", "read", "search"):
                        p50, p95, rate = measure(population, kind, clients=args.clients, requests=requests)
                        baseline = baseline or p95
                        figures = f"{p50:>8.1f} {p95:>8.1f} {rate:>7.1f} {p95 / baseline:>6.1f}"
                        print(f"{margin} {size:>10,} {kind:>7} {figures}")
                        sys.stdout.flush()
            finally:
                population.close()
            print(f"load average now: {' '.join(f'{load:.1f}' for load in os.getloadavg())}")


def _add_records(parsers: Any) -> None:
    parser = parsers.add_parser("records", help="create, read and search latency against the sightings")
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated numbers of sightings")
    parser.add_argument("--small", action="store_true", help="CI smoke run: 300 sightings, a few requests")
    parser.add_argument("--clients", type=int, default=4, help="client processes sending at once")
    parser.add_argument("--requests", type=int, default=200, help="requests of each kind per size")
    parser.add_argument("--pg", default=None, help="PostgreSQL URL to create a throwaway database beside")
    parser.add_argument("--pg-only", action="store_true", help="with --pg, leave SQLite out")
    parser.add_argument(
        "--restricted-every",
        type=int,
        default=0,
        help="make every n-th sighting no_cross_border (0: none), so searches also withhold some",
    )
    parser.set_defaults(run=run_records)


# --- entry point ----------------------------------------------------------------------------------

# Each part adds its subcommand (arguments, and ``run`` taking the parsed arguments).
PARTS: list[Callable[[Any], None]] = [_add_verify, _add_records]


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
