"""Per-call time of the application-facing matcher (``matching.Matcher``) on the development set.

With the default model: blocking keys of one record; scoring one request against N candidate
sightings (the application's cap on candidates per record); name-only scores of a search query
against 200 records; one explanation. Prints the median and p95 over the requests sampled.

    python benchmarks/matcher_bench.py [--data ../shared/bench/dev-rfl] [--requests 200]
                                       [--candidates 100 1500]
    python benchmarks/matcher_bench.py --small      # a smoke run: 20 requests, 100 candidates
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from matching import Matcher  # noqa: E402 (after the path is set)

SEARCH_HITS = 200


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def timed(calls: list[Callable[[], object]]) -> tuple[float, float]:
    """Median and p95 of the calls' wall time, in milliseconds."""
    times = []
    for call in calls:
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "bench" / "dev-rfl")
    ap.add_argument("--requests", type=int, default=200, help="requests sampled")
    ap.add_argument("--candidates", type=int, nargs="+", default=[100, 1500])
    ap.add_argument("--small", action="store_true", help="a smoke run of a few seconds")
    args = ap.parse_args()
    if args.small:
        args.requests, args.candidates = 20, [100]
    rng = random.Random(0)
    requests = rng.sample(read(args.data / "left.csv"), args.requests)
    sightings = read(args.data / "right.csv")
    start = time.perf_counter()
    matcher = Matcher.default()
    print(f"load the default model: {(time.perf_counter() - start) * 1000:.1f} ms ({matcher.version})")
    rows = [("blocking_keys(record)", [lambda r=r: matcher.blocking_keys(r) for r in requests])]
    for n in args.candidates:
        pools = [rng.sample(sightings, n) for _ in requests]
        rows.append(
            (
                f"score(record, {n} candidates)",
                [lambda r=r, p=p: matcher.score(r, p) for r, p in zip(requests, pools, strict=True)],
            )
        )
    hits = [rng.sample(sightings, SEARCH_HITS) for _ in requests]
    queries = [f"{r['given_name']} {r['family_name']}".strip() or r["full_name"] for r in requests]
    rows.append(
        (
            f"name_scores(query, {SEARCH_HITS} records)",
            [lambda q=q, h=h: matcher.name_scores(q, h) for q, h in zip(queries, hits, strict=True)],
        )
    )
    rows.append(
        (
            "explain(record, candidate)",
            [lambda r=r, h=h: matcher.explain(r, h[0]) for r, h in zip(requests, hits, strict=True)],
        )
    )
    for name, calls in rows:
        median, p95 = timed(calls)
        print(f"{name:<34} median {median:7.2f} ms   p95 {p95:7.2f} ms")


if __name__ == "__main__":
    main()
