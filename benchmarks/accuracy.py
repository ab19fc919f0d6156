"""Accuracy and speed of ``python -m matching link`` and ``dedupe`` on the shared benchmark datasets,
and of names alone across scripts.

Runs the command line twice per dataset: at the default threshold (timed: wall time and peak memory of
the process, end to end), and with ``--threshold 0`` (every candidate pair that survived blocking, with
its score) for best F1, recall@1, recall@10 (link only) and blocking recall. A folder with
``input.csv`` is a dedupe dataset (febrl3), one with ``left.csv`` and ``right.csv`` a link dataset.
Measures as defined in ``../shared/bench/README.md``.

Cross-script names: synthetic people (a given name, their father's, their grandfather's; see
``name_conventions.py``) written in Arabic script and in one of four published Latin conventions;
``Matcher.default().name_weights`` ranks every person's Latin form for each Arabic-script name (and the
other way round): the share whose own form is ranked first, alone.

    python benchmarks/accuracy.py [--data ../shared/bench] [--datasets febrl4 febrl3 dev-rfl] [--errors]
    python benchmarks/accuracy.py --small      # the first few hundred records of each: seconds
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from name_conventions import CONVENTIONS, people, render  # noqa: E402

from matching import Matcher  # noqa: E402 (after the path is set)

SMALL_ROWS = 400
SMALL_PEOPLE = 60


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


def read_pairs_dedupe(path: Path) -> list[tuple[str, str, float, float]]:
    """Dedupe output with each pair's ids in sorted order."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [
            (
                min(r["id_l"], r["id_r"]),
                max(r["id_l"], r["id_r"]),
                float(r["match_probability"]),
                float(r["match_weight"]),
            )
            for r in csv.DictReader(fh)
        ]


def read_truth(folder: Path) -> set[tuple[str, str]]:
    with open(folder / "truth.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if rows and "cluster" in rows[0]:  # dedupe: every pair within a cluster, ids in sorted order
        clusters: dict[str, list[str]] = defaultdict(list)
        for r in rows:
            clusters[r["cluster"]].append(r["id"])
        return {(a, b) for ids in clusters.values() for a, b in itertools.combinations(sorted(ids), 2)}
    return {(r["left_id"], r["right_id"]) for r in rows}


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


def evaluate(folder: Path, errors: bool, name: str = "") -> None:
    truth = read_truth(folder)
    dedupe = (folder / "input.csv").exists()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pairs.csv"
        if dedupe:
            common = ["dedupe", "--input", str(folder / "input.csv")]
        else:
            common = ["link", "--left", str(folder / "left.csv"), "--right", str(folder / "right.csv")]
        read = read_pairs_dedupe if dedupe else read_pairs
        wall, peak = run_cli([*common, "--out", str(out)])
        default = {(a, b) for a, b, _p, _w in read(out)}
        run_cli([*common, "--out", str(out), "--threshold", "0"])
        scored = read(out)
    p, r, f = prf(default, truth)
    bf, at = best_f1(scored, truth)
    blocked = {(a, b) for a, b, _p, _w in scored}
    print(f"{name or folder.name} ({'dedupe' if dedupe else 'link'}):")
    print(f"  at threshold 0.5: precision {p:.4f}  recall {r:.4f}  F1 {f:.4f}")
    print(f"  best F1 {bf:.4f} at p >= {at:.3f}")
    if not dedupe:
        print(f"  recall@1 {recall_at(scored, truth, 1):.4f}  recall@10 {recall_at(scored, truth, 10):.4f}")
    print(f"  blocking recall {len(blocked & truth) / len(truth):.4f} ({len(blocked)} candidate pairs)")
    print(f"  end to end {wall:.2f} s, peak memory {peak:.0f} MiB")
    if errors and not dedupe:
        error_analysis(folder, default, truth)


def cross_script_names(n_people: int, seed: int = 11) -> None:
    """Names alone across scripts: the share of people whose own Latin form ranks first, alone, for
    their Arabic-script name among every person's Latin form (and the other way round)."""
    matcher = Matcher.default()
    rng = random.Random(seed)
    crowd = people(n_people, seed)
    arabic = [" ".join(render(n, None) for n in person) for person in crowd]
    convention = [rng.choice(CONVENTIONS) for _ in crowd]
    latin = [" ".join(render(n, c) for n in person) for person, c in zip(crowd, convention, strict=True)]
    print(f"cross-script names ({n_people} synthetic people, names alone, Matcher.default()):")
    for label, queries, written in (
        ("Arabic script -> Latin", arabic, latin),
        ("Latin -> Arabic script", latin, arabic),
    ):
        records = [{"id": str(i), "full_name": text} for i, text in enumerate(written)]
        right = Counter()
        for i, query in enumerate(queries):
            weights = matcher.name_weights(query, records)
            own = weights[i]
            ok = all(w < own for j, w in enumerate(weights) if j != i)
            right[convention[i]] += ok
            right["all"] += ok
        per = "  ".join(f"{c} {right[c] / max(1, convention.count(c)):.3f}" for c in CONVENTIONS)
        print(f"  {label}: correct top candidate {right['all'] / len(queries):.4f}  ({per})")


def small_copy(folder: Path, tmp: Path, rows: int) -> Path:
    """The first ``rows`` records of each file of a dataset, with the truth among them."""
    out = tmp / folder.name
    out.mkdir()
    kept: set[str] = set()
    for name in ("left.csv", "right.csv", "input.csv"):
        if not (folder / name).exists():
            continue
        with open(folder / name, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            records = list(itertools.islice(reader, rows))
            with open(out / name, "w", newline="", encoding="utf-8") as dst:
                w = csv.DictWriter(dst, fieldnames=reader.fieldnames or [])
                w.writeheader()
                w.writerows(records)
        kept |= {r["id"] for r in records}
    with open(folder / "truth.csv", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        truth = [r for r in reader if all(v in kept for k, v in r.items() if k != "cluster")]
        with open(out / "truth.csv", "w", newline="", encoding="utf-8") as dst:
            w = csv.DictWriter(dst, fieldnames=reader.fieldnames or [])
            w.writeheader()
            w.writerows(truth)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "bench")
    ap.add_argument("--datasets", nargs="*", default=["febrl4", "febrl3", "dev-rfl"])
    ap.add_argument("--errors", action="store_true", help="error analysis with negatives.csv")
    ap.add_argument("--people", type=int, default=500, help="people of the cross-script names section")
    ap.add_argument("--small", action="store_true", help="a smoke run: the first records of each set")
    args = ap.parse_args()
    if args.small:
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.datasets:
                evaluate(small_copy(args.data / name, Path(tmp), SMALL_ROWS), args.errors, f"{name} (small)")
        cross_script_names(SMALL_PEOPLE)
        return
    for name in args.datasets:
        evaluate(args.data / name, args.errors)
    if args.people:
        cross_script_names(args.people)


if __name__ == "__main__":
    main()
