"""Rebuild the default model shipped in ``matching/default_model.json`` (``Matcher.default()``).

It is fitted, unsupervised, on the synthetic development set of Restoring Family Links records
(``../shared/bench/dev-rfl``: generated requests and sightings, no one's personal data), so its name
frequencies are synthetic names only. The fit is deterministic (seeded), so the same data gives the
same file; ``--check`` rebuilds and compares instead of writing.

The prior (the probability that two records are the same person before any evidence) depends on how
many records there are: fitted on 3,000 requests x 8,000 sightings it is about 1 in 19,000 pairs. The
default model serves installations too small to fit their own, so its prior is the development set's
matches per request spread over ``--reference-size`` records on the other side (1,000 by default):
with fewer, the prior understates, so the first true pair of a new installation errs towards being
proposed, and an installation that outgrows the default fits its own model.

    python benchmarks/build_default_model.py [--data ../shared/bench/dev-rfl] [--reference-size N] [--check]
"""

from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from matching import Matcher, MatchingError  # noqa: E402 (after the path is set)
from matching.matcher import DEFAULT_MODEL  # noqa: E402

TARGET = ROOT / "matching" / DEFAULT_MODEL


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def build(data: Path, reference_size: int) -> str:
    left, right = data / "left.csv", data / "right.csv"
    requests, sightings = read(left), read(right)
    fitted = Matcher.fit(requests, sightings)
    model = copy.deepcopy(fitted.model)
    # the fitted prior times the sightings is the expected matches per request; spread over the reference
    model.prior = fitted.model.prior * len(sightings) / reference_size
    if not 0 < model.prior < 0.5:
        raise MatchingError("the reference size gives no usable prior")
    source = (
        f"fitted by benchmarks/build_default_model.py on the synthetic RFL development set "
        f"(left.csv sha256 {digest(left)}..., right.csv sha256 {digest(right)}...), prior for "
        f"{reference_size} records on the other side; no personal data"
    )
    matcher = Matcher(model, fitted.frequencies, exclusivity=fitted.exclusivity, source=source)
    return json.dumps(matcher.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"


def _same_model(shipped: object, built: object) -> bool:
    """Equal up to the last bits of floating point: the fit's sums may be added in another order on
    another machine (or under another load), which changes a last digit and nothing a score shows."""
    if isinstance(shipped, float) and isinstance(built, float):
        return math.isclose(shipped, built, rel_tol=1e-9, abs_tol=1e-15)
    if isinstance(shipped, dict) and isinstance(built, dict):
        return shipped.keys() == built.keys() and all(_same_model(shipped[k], built[k]) for k in shipped)
    if isinstance(shipped, list) and isinstance(built, list):
        return len(shipped) == len(built) and all(map(_same_model, shipped, built))
    return shipped == built


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "bench" / "dev-rfl")
    ap.add_argument("--reference-size", type=int, default=1000, help="records on the other side")
    ap.add_argument("--check", action="store_true", help="compare with the shipped file, write nothing")
    args = ap.parse_args()
    text = build(args.data, args.reference_size)
    if args.check:
        same = _same_model(json.loads(TARGET.read_text(encoding="utf-8")), json.loads(text))
        print("the shipped default model is up to date" if same else "the shipped default model differs")
        return 0 if same else 1
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)} ({len(text.encode()) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
