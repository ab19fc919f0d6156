"""Speed, memory and recall of the matcher at scale, beside Splink in the same run.

Batch: for each size (default 3,000 x 8,000, 20,000 x 20,000, 50,000 x 50,000 and 100,000 x 100,000)
synthetic records recombined from dev-rfl are written as CSV; a share of the right records are
perturbed copies of left ones (typos, dropped fields, estimated dates), the planted pairs. Then
``python -m matching link --threshold 0 --top-k 10`` and the Splink baseline
(``../shared/bench/tools/splink_baseline.py``) run on the same files, interleaved, ``--runs`` times
each (default 3): the median wall time and peak memory of each child process, their ratios (ours /
Splink's), and recall@1 and recall@10 of the planted pairs. The machine is shared, so only the ratios
measured in one run mean much.

Splink runs in a separate benchmark environment, never in the project's dependencies::

    python3 -m venv /work/.bench-venv
    /work/.bench-venv/bin/pip install splink anyascii jellyfish 'pandas<3'

and is found through ``--splink-python`` or ``$SPLINK_PYTHON`` (default ``/work/.bench-venv/bin/python``);
without it Splink is skipped, and said so.

Incremental (``--index-size M``): an :class:`matching.IncrementalIndex` of M records, then Q queries
(perturbed copies of indexed records and fresh ones): median and p95 latency.

    python benchmarks/scale.py                                   # the four sizes, 3 runs each
    python benchmarks/scale.py --sizes 20000x20000 --runs 1      # one size, once
    python benchmarks/scale.py --index-size 1000000 --queries 1000 --sizes
    python benchmarks/scale.py --small                           # a smoke run of a few seconds
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from matching import IncrementalIndex, link  # noqa: E402
from matching.io import LINK_HEADER  # noqa: E402
from matching.records import FIELDS  # noqa: E402

Record = dict[str, str]
SPLINK_BASELINE = ROOT.parent / "shared" / "bench" / "tools" / "splink_baseline.py"
DEFAULT_SPLINK_PYTHON = "/work/.bench-venv/bin/python"
SIZES = [(3000, 8000), (20_000, 20_000), (50_000, 50_000), (100_000, 100_000)]


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


@dataclass
class Run:
    """One timed run of a matcher on one pair of files."""

    seconds: float
    peak_mib: float
    ranked: dict[str, list[tuple[float, str]]]  # left id -> (weight, right id), all candidates written


def run_child(argv: list[str], out: Path, header: tuple[str, str, str, str]) -> Run:
    """Run a matcher in a child process; wall time, its peak resident memory and its pairs."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[1]} failed:\n{err}")
    left, right, _p, weight = header
    ranked: dict[str, list[tuple[float, str]]] = defaultdict(list)
    with open(out, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ranked[row[left]].append((float(row[weight]), row[right]))
    return Run(seconds, usage.ru_maxrss / 1024, ranked)


def recall_at(ranked: dict[str, list[tuple[float, str]]], planted: dict[str, str], k: int) -> float:
    """Share of planted pairs whose right record is among the k best of its left one (ties against)."""
    hit = 0
    for left_id, right_id in planted.items():
        cands = ranked.get(left_id, [])
        true = [w for w, r in cands if r == right_id]
        if true:
            hit += sum(1 for w, r in cands if w >= true[0] and r != right_id) < k
    return hit / max(1, len(planted))


def batch(
    gen: Recombiner, sizes: tuple[int, int], match_share: float, runs: int, splink: Path | None
) -> None:
    """Ours and Splink on the same files, ``runs`` times each, interleaved: medians and ratios."""
    n_left, n_right = sizes
    left = [gen.person(i) for i in range(n_left)]
    n_planted = int(min(n_left, n_right) * match_share)
    right = [gen.sighting_of(r, i) for i, r in enumerate(left[:n_planted])]
    right += [gen.person(n_left + i) for i in range(n_right - len(right))]
    planted = {left[i]["id"]: right[i]["id"] for i in range(n_planted)}
    ours_runs: list[Run] = []
    theirs_runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        lp, rp, out = Path(tmp) / "left.csv", Path(tmp) / "right.csv", Path(tmp) / "pairs.csv"
        write(lp, left)
        write(rp, right)
        ours = [
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
        ]
        ours += ["--threshold", "0", "--top-k", "10"]  # a ranked candidate list for every record
        for _ in range(runs):
            ours_runs.append(run_child(ours, out, LINK_HEADER))
            if splink is not None:
                argv = [str(splink), str(SPLINK_BASELINE), "link", str(lp), str(rp), str(out)]
                theirs_runs.append(run_child(argv, out, LINK_HEADER))
    label = f"{n_left:,} x {n_right:,}"
    t_ours = statistics.median(r.seconds for r in ours_runs)
    m_ours = statistics.median(r.peak_mib for r in ours_runs)
    r10 = recall_at(ours_runs[-1].ranked, planted, 10)
    r1 = recall_at(ours_runs[-1].ranked, planted, 1)
    line = f"{label:>19}: ours {t_ours:6.1f} s {m_ours:6.0f} MiB  recall@1 {r1:.4f} recall@10 {r10:.4f}"
    if theirs_runs:
        t_splink = statistics.median(r.seconds for r in theirs_runs)
        m_splink = statistics.median(r.peak_mib for r in theirs_runs)
        line += (
            f" | splink {t_splink:6.1f} s {m_splink:6.0f} MiB recall@10 "
            f"{recall_at(theirs_runs[-1].ranked, planted, 10):.4f}"
            f" | time ratio {t_ours / t_splink:.2f} memory ratio {m_ours / m_splink:.2f}"
        )
    times = ", ".join(f"{r.seconds:.1f}" for r in ours_runs)
    line += f"  (ours: {times} s"
    if theirs_runs:
        line += "; splink: " + ", ".join(f"{r.seconds:.1f}" for r in theirs_runs) + " s"
    print(line + ")", flush=True)


def splink_python(given: str | None) -> Path | None:
    """The benchmark environment's python with splink, or None (said on stderr) when there is none."""
    path = Path(given) if given else None
    if path is None or not path.exists():
        print(
            f"no benchmark environment with splink ({given or 'set --splink-python or SPLINK_PYTHON'}): "
            "Splink is skipped",
            file=sys.stderr,
        )
        return None
    if not SPLINK_BASELINE.exists():
        print(f"no {SPLINK_BASELINE}: Splink is skipped", file=sys.stderr)
        return None
    return path


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


def size(text: str) -> tuple[int, int]:
    left, _, right = text.partition("x")
    return int(left), int(right or left)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "bench" / "dev-rfl")
    ap.add_argument(
        "--sizes", type=size, nargs="*", default=SIZES, help="LEFTxRIGHT record counts of the batch runs"
    )
    ap.add_argument("--runs", type=int, default=3, help="runs of each matcher per size (the median counts)")
    ap.add_argument("--match-share", type=float, default=0.3)
    ap.add_argument(
        "--splink-python",
        default=os.environ.get("SPLINK_PYTHON", DEFAULT_SPLINK_PYTHON),
        help="python of a separate benchmark environment with splink, anyascii, jellyfish and pandas "
        "(default: $SPLINK_PYTHON, else " + DEFAULT_SPLINK_PYTHON + ")",
    )
    ap.add_argument("--index-size", type=int, default=0, help="records indexed (0 skips it)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--small", action="store_true", help="a smoke run of a few seconds")
    args = ap.parse_args()
    if args.small:
        args.sizes, args.runs, args.index_size = [(1000, 1000)], 1, 0
    gen = Recombiner(load(args.dev), args.seed)
    splink = splink_python(args.splink_python)
    for sizes in args.sizes:
        batch(gen, sizes, args.match_share, args.runs, splink)
    if args.index_size:
        incremental(gen, args.dev, args.index_size, args.queries)


if __name__ == "__main__":
    main()
