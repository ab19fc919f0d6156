"""Accuracy and speed of ``python -m matching link`` on the shared benchmark datasets.

Runs the command line twice per dataset: at the default threshold (timed: wall time and peak memory of
the process, end to end), and with ``--threshold 0`` (every candidate pair that survived blocking, with
its score) for best F1, recall@1, recall@10 and blocking recall. Measures as defined in
``../shared/bench/README.md``.

    python benchmarks/accuracy.py [--data ../shared/bench] [--datasets febrl4 dev-rfl] [--errors]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(args: list[str]) -> tuple[float, float]:
    """Run the matcher; return wall seconds and peak resident memory in MiB."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "matching", "--quiet", *args], cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"matcher failed with status {proc.returncode}: {args}")
    return wall, usage.ru_maxrss / 1024


def read_pairs(path: Path) -> list[tuple[str, str, float, float]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [
            (r["left_id"], r["right_id"], float(r["match_probability"]), float(r["match_weight"]))
            for r in csv.DictReader(fh)
        ]


def read_truth(folder: Path) -> set[tuple[str, str]]:
    with open(folder / "truth.csv", newline="", encoding="utf-8") as fh:
        return {(r["left_id"], r["right_id"]) for r in csv.DictReader(fh)}


def prf(pred: set[tuple[str, str]], truth: set[tuple[str, str]]) -> tuple[float, float, float]:
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(truth) if truth else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def best_f1(scored: list[tuple[str, str, float, float]], truth: set[tuple[str, str]]) -> tuple[float, float]:
    """Best F1 over all probability thresholds, and the threshold that gives it."""
    ranked = sorted(scored, key=lambda r: -r[2])
    tp, best, at = 0, 0.0, 1.0
    for n, (a, b, p, _w) in enumerate(ranked, start=1):
        tp += (a, b) in truth
        f = 2 * tp / (n + len(truth))
        if f > best and (n == len(ranked) or ranked[n][2] < p):
            best, at = f, p
    return best, at


def recall_at(scored: list[tuple[str, str, float, float]], truth: set[tuple[str, str]], k: int) -> float:
    """Share of left records with a true pair whose k best candidates include one (ties count against)."""
    by_left: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for a, b, _p, w in scored:
        by_left[a].append((w, b))
    wanted = {a for a, _ in truth}
    hit = 0
    for a in wanted:
        cands = by_left.get(a, [])
        true_w = [w for w, b in cands if (a, b) in truth]
        if not true_w:
            continue
        best = max(true_w)
        rank = sum(1 for w, b in cands if w >= best and (a, b) not in truth) + 1
        hit += rank <= k
    return hit / len(wanted)


def error_analysis(folder: Path, predicted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> None:
    negatives: dict[tuple[str, str], str] = {}
    neg_path = folder / "negatives.csv"
    if neg_path.exists():
        with open(neg_path, newline="", encoding="utf-8") as fh:
            negatives = {(r["left_id"], r["right_id"]): r["relation"] for r in csv.DictReader(fh)}
    fp = predicted - truth
    print(f"  false positives at 0.5 by relation: {dict(Counter(negatives.get(p, 'unrelated') for p in fp))}")
    with open(folder / "right.csv", newline="", encoding="utf-8") as fh:
        right = {r["id"]: r for r in csv.DictReader(fh)}
    misses = truth - predicted
    n_thin = sum(near_empty(right[b]) for _a, b in truth)
    thin = sum(near_empty(right[b]) for _a, b in misses)
    print(
        f"  near-empty sightings (at most two names, no mother, phone or document, no precise birth date): "
        f"{n_thin / len(truth):.1%} of true pairs"
    )
    print(
        f"  missed true pairs at 0.5: {len(misses)}; near-empty sightings: {thin} "
        f"({thin / max(1, len(misses)):.0%}); the rest ({len(misses) - thin}) "
        "carry evidence the matcher did not weigh enough"
    )


def near_empty(r: dict[str, str]) -> bool:
    """A sighting that carries almost nothing: a name or two, an estimated year at best."""
    names = (r["given_name"] + " " + r["family_name"] + " " + r["full_name"]).split()
    precise = len(r["birth_date"]) == 10 and not r["birth_date"].endswith("-01-01")
    strong = any(r[f].strip() for f in ("mother_name", "phone", "document_id"))
    return len(names) <= 2 and not precise and not strong


def evaluate(folder: Path, errors: bool) -> None:
    truth = read_truth(folder)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pairs.csv"
        common = ["link", "--left", str(folder / "left.csv"), "--right", str(folder / "right.csv")]
        wall, peak = run_cli([*common, "--out", str(out)])
        default = {(a, b) for a, b, _p, _w in read_pairs(out)}
        run_cli([*common, "--out", str(out), "--threshold", "0"])
        scored = read_pairs(out)
    p, r, f = prf(default, truth)
    bf, at = best_f1(scored, truth)
    blocked = {(a, b) for a, b, _p, _w in scored}
    print(f"{folder.name}:")
    print(f"  at threshold 0.5: precision {p:.4f}  recall {r:.4f}  F1 {f:.4f}")
    print(f"  best F1 {bf:.4f} at p >= {at:.3f}")
    print(f"  recall@1 {recall_at(scored, truth, 1):.4f}  recall@10 {recall_at(scored, truth, 10):.4f}")
    print(f"  blocking recall {len(blocked & truth) / len(truth):.4f} ({len(blocked)} candidate pairs)")
    print(f"  end to end {wall:.2f} s, peak memory {peak:.0f} MiB")
    if errors:
        error_analysis(folder, default, truth)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "bench")
    ap.add_argument("--datasets", nargs="+", default=["febrl4", "dev-rfl"])
    ap.add_argument("--errors", action="store_true", help="error analysis with negatives.csv")
    args = ap.parse_args()
    for name in args.datasets:
        evaluate(args.data / name, args.errors)


if __name__ == "__main__":
    main()
