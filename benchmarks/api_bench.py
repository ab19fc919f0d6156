"""HTTP throughput and latency of record creation and reads, against /healthz in the same run.

Runs the real stack: PostgreSQL, gunicorn serving ``rfl`` (encryption, blind indexes and the audit log
on), and a load driver in a second process. Prints requests per second, p50/p95 latency and each
figure's ratio to the /healthz baseline measured in the same run.

    python benchmarks/api_bench.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                   [--workers 2] [--clients 8] [--seconds 10]
    python benchmarks/api_bench.py --small   # a smoke run (CI): 1 worker, 2 clients, 1 s per scenario
    python benchmarks/api_bench.py --executor celery [--broker redis://127.0.0.1:6379/15]

With the default executor (``process``) POSTs include what the embedded default does after each answer:
the worker that saved the record drains the matching outbox (proposals) before it takes the next
request. Every record here is the same person, so each new one is a candidate of all the others (the
matcher's worst case). With ``--executor celery`` the server only relays the outbox to the broker (no
worker consumes it here): the POSTs then cost the save itself, what a create over HTTP costs when
proposals run on other machines.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "benchmark password 1"  # noqa: S105 (a throwaway user of a throwaway database)

REQUEST_BODY = {
    "sought_person": {
        "given_name": "Mohammed",
        "family_name": "Al-Hassan",
        "birth_date": "1990-05",
        "nationality": "SY",
        "father_name": "Yusuf",
        "phone": "+963 11 555 0100",
    },
    "enquirer": {"full_name": "Amina Al-Hassan", "relationship": "sister", "phone": "+49 30 555 0100"},
    "separation": {"date": "2023-09", "place": "Lampedusa"},
    "message": "We are in Berlin.",
    "legal_basis": "vital_interest",
}
SIGHTING_BODY = {
    "person": {"given_name": "Muhammad", "family_name": "Alhassan", "age": "30-35", "nationality": "SY"},
    "registration": {"date": "2024-03-02", "place": "Bari", "country": "IT"},
    "condition": "alive",
    "whereabouts": {"current_place": "Bari", "phone": "+39 080 555 0100"},
    "legal_basis": "vital_interest",
}


# --- the load driver (runs in its own process) -----------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    label: str
    method: str
    paths: list[str]
    body: dict[str, Any] | None = None
    token: str | None = None


def _worker(
    port: int, scenario: Scenario, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    headers = {"Content-Type": "application/json"}
    if scenario.token:
        headers["Authorization"] = f"Bearer {scenario.token}"
    payload = json.dumps(scenario.body).encode() if scenario.body is not None else None
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    index = 0
    while time.perf_counter() < deadline:
        path = scenario.paths[index % len(scenario.paths)]
        index += 1
        started = time.perf_counter()
        connection.request(scenario.method, path, body=payload, headers=headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status >= 400:
            errors.append(response.status)


def drive(port: int, scenario: Scenario, clients: int, seconds: float, queue: Any) -> None:
    latencies: list[float] = []
    errors: list[int] = []
    deadline = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=_worker, args=(port, scenario, deadline, latencies, errors))
        for _ in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put({"elapsed": time.perf_counter() - started, "latencies": latencies, "errors": len(errors)})


def run_load(port: int, scenario: Scenario, *, clients: int, seconds: float) -> dict[str, float]:
    """Drive the server from a second process, so the driver does not share the server's interpreter."""
    queue: Any = multiprocessing.Queue()
    process = multiprocessing.Process(target=drive, args=(port, scenario, clients, seconds, queue))
    process.start()
    result = queue.get()
    process.join()
    latencies = sorted(result["latencies"])
    return {
        "requests": len(latencies),
        "rps": len(latencies) / result["elapsed"],
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "errors": result["errors"],
    }


# --- setting up the server -------------------------------------------------------------------------


def _rfl(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    rfl = shutil.which("rfl", path=str(Path(sys.executable).parent)) or "rfl"
    return subprocess.run(
        [rfl, *args], env=env, input=stdin, text=True, capture_output=True, check=True
    ).stdout


def _request(port: int, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    return json.loads(response.read() or b"null")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=5099)
    parser.add_argument("--small", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--executor", choices=("process", "celery"), default="process")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    args.seeded = 50
    if args.small:
        args.workers, args.clients, args.seconds, args.seeded = 1, 2, 1.0, 5
    return args


def main() -> None:
    args = _arguments()

    database = f"rfl_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
    url = make_url(args.pg).set(database=database).render_as_string(hide_password=False)
    instance = tempfile.mkdtemp(prefix="rfl-bench-")
    env = os.environ | {
        "RFL_DATABASE_URL": url,
        "RFL_INSTANCE_DIR": instance,
        "RFL_LOG_LEVEL": "WARNING",
        "RFL_MATCHING_EXECUTOR": args.executor,
        "RFL_CELERY_BROKER_URL": args.broker,
    }
    server = None
    try:
        _rfl(env, "db", "upgrade")
        _rfl(env, "societies", "create", "--country", "IT", "--name", "Italian Red Cross")
        _rfl(
            env,
            "users",
            "create",
            "--email",
            "bench@example.org",
            "--name",
            "Bench",
            "--role",
            "caseworker",
            "--society",
            "IT",
            stdin=f"{PASSWORD}\n",
        )
        rfl = shutil.which("rfl", path=str(Path(sys.executable).parent)) or "rfl"
        server = subprocess.Popen(
            [rfl, "serve", "--port", str(args.port), "--workers", str(args.workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(args.port)
        token = _request(
            args.port, "POST", "/api/v1/auth/token", {"email": "bench@example.org", "password": PASSWORD}
        )["token"]
        request_ids = [
            _request(args.port, "POST", "/api/v1/tracing-requests", REQUEST_BODY, token)["id"]
            for _ in range(args.seeded)
        ]
        sighting_ids = [
            _request(args.port, "POST", "/api/v1/sightings", SIGHTING_BODY, token)["id"]
            for _ in range(args.seeded)
        ]

        request_paths = [f"/api/v1/tracing-requests/{i}" for i in request_ids]
        sighting_paths = [f"/api/v1/sightings/{i}" for i in sighting_ids]
        scenarios = [
            Scenario("GET /healthz (baseline)", "GET", ["/healthz"]),
            Scenario("POST /tracing-requests", "POST", ["/api/v1/tracing-requests"], REQUEST_BODY, token),
            Scenario("GET /tracing-requests/{id}", "GET", request_paths, token=token),
            Scenario("POST /sightings", "POST", ["/api/v1/sightings"], SIGHTING_BODY, token),
            Scenario("GET /sightings/{id}", "GET", sighting_paths, token=token),
        ]
        print(
            f"gunicorn workers={args.workers}, clients={args.clients}, {args.seconds:g} s per scenario, "
            f"PostgreSQL, {os.cpu_count()} cores shared by server, database and driver, "
            f"proposals: {args.executor}"
        )
        header = (
            f"{'scenario':32} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'rps ratio':>10} {'p95 ratio':>10}"
        )
        print(f"{header} errors")
        baseline: dict[str, float] | None = None
        for scenario in scenarios:
            result = run_load(args.port, scenario, clients=args.clients, seconds=args.seconds)
            baseline = baseline or result
            print(
                f"{scenario.label:32} {result['rps']:8.0f} {result['p50_ms']:8.1f} {result['p95_ms']:8.1f} "
                f"{result['rps'] / baseline['rps']:10.2f} {result['p95_ms'] / baseline['p95_ms']:10.1f} "
                f"{result['errors']:.0f}"
            )
        verify = _rfl(env, "audit", "verify")
        print(f"audit log after the run: {verify.strip()}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(instance, ignore_errors=True)


def _wait_for(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _request(port, "GET", "/healthz")
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


if __name__ == "__main__":
    main()
