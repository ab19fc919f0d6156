"""Speed and memory of the matcher at scale, on synthetic records recombined from dev-rfl.

Batch: N x N records (default 100,000 x 100,000) written as CSV and linked with ``python -m matching
link`` in a child process: wall time, peak memory, candidate pairs per second. A share of the right
records are perturbed copies of left ones (typos, dropped fields, estimated dates) so that there is
something to find.

Incremental: an :class:`matching.IncrementalIndex` of M records (default 1,000,000), then Q queries
(default 1,000; perturbed copies of indexed records and fresh ones): median and p95 latency.

    python benchmarks/scale.py                       # full size
    python benchmarks/scale.py --size 20000 --index-size 100000 --queries 300   # a quick run
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from matching import IncrementalIndex, link  # noqa: E402
from matching.blocking import candidate_pairs  # noqa: E402
from matching.linker import prepare_all  # noqa: E402
from matching.records import FIELDS, Vocabulary  # noqa: E402

Record = dict[str, str]


def load(folder: Path) -> list[Record]:
    rows: list[Record] = []
    for name in ("left.csv", "right.csv"):
        with open(folder / name, newline="", encoding="utf-8") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


class Recombiner:
    """New people from the parts of dev-rfl people of the same nationality (and sex for given names)."""

    def __init__(self, source: list[Record], seed: int) -> None:
        self.rng = random.Random(seed)
        self.source = source
        self.pools: dict[tuple[str, str], list[str]] = defaultdict(list)
        for r in source:
            nat = r["nationality"]
            for f in ("given_name", "family_name", "father_name", "mother_name", "birth_place", "place"):
                if r[f]:
                    key = (f + r["sex"]) if f == "given_name" else f
                    self.pools[(key, nat)].append(r[f])

    def person(self, n: int) -> Record:
        rng = self.rng
        base = rng.choice(self.source)
        nat = base["nationality"]
        rec = dict.fromkeys(FIELDS, "")
        rec["id"] = f"P{n:08d}"
        rec["nationality"] = nat
        rec["sex"] = base["sex"]

        def pick(f: str, key: str | None = None) -> str:
            pool = self.pools.get((key or f, nat)) or self.pools.get((key or f, "")) or [""]
            return rng.choice(pool)

        rec["given_name"] = pick("given_name", "given_name" + base["sex"])
        rec["family_name"] = pick("family_name")
        y = rng.randint(1950, 2018)
        rec["birth_date"] = rng.choice(
            [f"{y}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", f"{y}", f"{y}-01-01"]
        )
        rec["record_date"] = f"{rng.randint(2015, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        for f in ("father_name", "mother_name", "birth_place", "place"):
            if rng.random() < 0.6:
                rec[f] = pick(f)
        if rng.random() < 0.3:
            rec["phone"] = f"+{rng.randint(10, 999)} {rng.randint(10**8, 10**9 - 1)}"
        return rec

    def sighting_of(self, rec: Record, n: int) -> Record:
        """Another registration of the same person: typos, dropped fields, an estimated date."""
        rng = self.rng
        out = dict(rec, id=f"S{n:08d}")
        if rng.random() < 0.3:
            out["given_name"] = _typo(out["given_name"], rng)
        if rng.random() < 0.3:
            out["family_name"] = "" if rng.random() < 0.5 else _typo(out["family_name"], rng)
        if rng.random() < 0.4 and out["birth_date"]:
            y = int(out["birth_date"][:4]) + rng.choice([-1, 0, 0, 1])
            out["birth_date"] = f"{y}-01-01"
        for f in ("father_name", "mother_name", "phone", "birth_place", "place"):
            if rng.random() < 0.4:
                out[f] = ""
        return out


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def write(path: Path, records: list[Record]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(FIELDS))
        w.writeheader()
        w.writerows(records)


def batch(gen: Recombiner, size: int, match_share: float) -> None:
    left = [gen.person(i) for i in range(size)]
    right = [gen.sighting_of(r, i) for i, r in enumerate(left[: int(size * match_share)])]
    right += [gen.person(size + i) for i in range(size - len(right))]
    with tempfile.TemporaryDirectory() as tmp:
        lp, rp, out = Path(tmp) / "left.csv", Path(tmp) / "right.csv", Path(tmp) / "pairs.csv"
        write(lp, left)
        write(rp, right)
        start = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "matching",
                "link",
                "--left",
                str(lp),
                "--right",
                str(rp),
                "--out",
                str(out),
            ],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        err = proc.stderr.read() if proc.stderr else ""
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"matcher failed:\n{err}")
        with open(out, newline="", encoding="utf-8") as fh:
            found = {(row["left_id"], row["right_id"]) for row in csv.DictReader(fh)}
    for line in err.splitlines():  # the matcher's own progress: where the time goes
        print("   ", line)
    m = re.search(r"(\d+) candidate pairs", err)
    pairs = int(m.group(1)) if m else 0
    planted = {(left[i]["id"], r["id"]) for i, r in enumerate(right[: int(size * match_share)])}
    hits = len(found & planted)
    print(
        f"batch {size:,} x {size:,}: {wall:.1f} s end to end, peak memory {usage.ru_maxrss / 1024:.0f} MiB, "
        f"{pairs:,} candidate pairs ({pairs / wall:,.0f} per second overall), {len(found):,} pairs at "
        f"p >= 0.5: {hits:,} of the {len(planted):,} planted ({hits / max(1, len(planted)):.4f}), "
        f"{len(found) - hits:,} others"
    )
    blocked = blocking_recall(left, right, len(planted))
    print(
        f"  blocking recall at scale: {blocked:,} of the {len(planted):,} planted pairs are candidates "
        f"({blocked / max(1, len(planted)):.4f}); at p >= 0.5 {hits / max(1, blocked):.4f} of those"
    )


def blocking_recall(left: list[Record], right: list[Record], n_planted: int) -> int:
    """Planted pairs (left i, right i for i < n_planted) that survive blocking, measured in process."""
    vocab = Vocabulary()
    a = prepare_all(left, vocab, "left")
    b = prepare_all(right, vocab, "right")
    li, ri, _ = candidate_pairs(a, b, vocab)
    return int(((li == ri) & (li < n_planted)).sum())


def incremental(gen: Recombiner, dev: Path, index_size: int, queries: int) -> None:
    with open(dev / "left.csv", newline="", encoding="utf-8") as fh:
        left = list(csv.DictReader(fh))
    with open(dev / "right.csv", newline="", encoding="utf-8") as fh:
        right = list(csv.DictReader(fh))
    model = link(left, right).model  # a model fitted unsupervised on data of the same kind
    index = IncrementalIndex(model)
    start = time.perf_counter()
    kept: list[Record] = []
    for i in range(index_size):
        rec = gen.person(i)
        index.add(rec)
        if i % max(1, index_size // queries) == 0:
            kept.append(rec)
        if i and i % 100_000 == 0:
            print(f"  indexed {i:,} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    add_s = time.perf_counter() - start
    probes = [gen.sighting_of(r, n) for n, r in enumerate(kept[: queries // 2])]
    probes += [gen.person(index_size + n) for n in range(queries - len(probes))]
    times = []
    hits = 0
    for n, q in enumerate(probes):
        t = time.perf_counter()
        got = index.candidates(q, k=10)
        times.append(time.perf_counter() - t)
        if n < queries // 2 and got and got[0].id == kept[n]["id"]:
            hits += 1
    times.sort()
    median, p95 = times[len(times) // 2], times[int(len(times) * 0.95)]
    try:
        import resource

        peak = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    except ImportError:  # pragma: no cover - not on Linux
        peak = "n/a"
    print(
        f"incremental: {index_size:,} records indexed in {add_s:.0f} s "
        f"({add_s / index_size * 1e6:.0f} us each), "
        f"peak memory {peak}; {queries} queries: median {median * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms; "
        f"planted record ranked first for {hits}/{queries // 2}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "bench" / "dev-rfl")
    ap.add_argument(
        "--size", type=int, default=100_000, help="records per side of the batch run (0 skips it)"
    )
    ap.add_argument("--match-share", type=float, default=0.3)
    ap.add_argument("--index-size", type=int, default=1_000_000, help="records indexed (0 skips it)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    gen = Recombiner(load(args.dev), args.seed)
    if args.size:
        batch(gen, args.size, args.match_share)
    if args.index_size:
        incremental(gen, args.dev, args.index_size, args.queries)


if __name__ == "__main__":
    main()
