"""Match-blocking recall under the planned blind-index truncation (not a test).

The application blocks on keyed, truncated hashes of the matcher's blocking keys (``match_block``):
a record's candidates are the other side's records sharing a value, minus values that more than
``RFL_MATCH_MAX_KEY_RECORDS`` rows share (crowded), the most shared values first, ``CANDIDATE_HEADROOM``
times ``RFL_MATCH_MAX_CANDIDATES`` of them; these are decrypted, and those sharing a real key are ranked
by keys shared and the first ``RFL_MATCH_MAX_CANDIDATES`` scored. Truncation merges keys, never splits
them, so it can lose a true pair only through the limits (a merged value crowded, or false positives
pushing the true one past the fetch). This script
replays that rule in memory on a link dataset (the other side as one society) and prints, per
truncation, the share of true pairs that reach the matcher and the candidates decrypted per record:

* ``exact``: the keys themselves (what blocking would find with no truncation at all);
* ``shipped``: the shipped plan's bits (``IndexPlanning().bits("match_block")``);
* ``planned for this data``: the bits the plan gives for the dataset's own distinct key count (two
  keys per value at this size: the most merging the plan ever allows);
* ``stress``: four bits fewer than that (16 keys per value: far beyond any plan).

    python benchmarks/index_plan_recall.py [--data ../shared/bench] [--datasets dev-rfl febrl4]
    python benchmarks/index_plan_recall.py --small     # the first 1,000 records of each side: seconds
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's packages, not an installed one

from matching import blocking_keys  # noqa: E402 (after the path is set)
from privacy import BlindIndexer, LocalKeyProvider, plan_index_bits  # noqa: E402
from rfl.crypto.planning import MATCH_BLOCK, IndexPlanning, SocietyIndex  # noqa: E402
from rfl.matches.proposals import CANDIDATE_HEADROOM  # noqa: E402
from rfl.matches.settings import MatchingSettings  # noqa: E402

SMALL_ROWS = 1_000
LIST_FIELDS = ("alternate_names",)


@dataclass(frozen=True)
class Blocked:
    """One record's candidates: those blocking fetched (and the application decrypts), and those that
    share a real key and are scored."""

    decrypted: list[str]
    scored: list[str]


def canonical(row: Mapping[str, str]) -> dict[str, Any]:
    """A canonical CSV row as the application's canonical mapping (lists for aliases, no empties)."""
    record: dict[str, Any] = {name: value for name, value in row.items() if value}
    for name in LIST_FIELDS:
        if name in record:
            record[name] = [alias for alias in record[name].split("|") if alias]
    return record


def read(path: Path, limit: int | None) -> dict[str, list[str]]:
    """Blocking keys of each record of a canonical CSV, by id."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[:limit]
    return {row["id"]: blocking_keys(canonical(row)) for row in rows}


def truth(path: Path, left: Mapping[str, object], right: Mapping[str, object]) -> set[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        pairs = {(row["left_id"], row["right_id"]) for row in csv.DictReader(handle)}
    return {pair for pair in pairs if pair[0] in left and pair[1] in right}


def hashed(keys: Iterable[str], bits: int | None) -> dict[str, bytes | str]:
    """Each key's index value under a throwaway key at ``bits`` (None: the key itself)."""
    distinct = sorted(set(keys))
    if bits is None:
        return {key: key for key in distinct}
    provider = LocalKeyProvider.in_memory(["bench"])
    index = SocietyIndex(BlindIndexer(provider, "bench"), 1, {MATCH_BLOCK: bits})
    return {
        key: value.value for key, value in zip(distinct, index.values(MATCH_BLOCK, distinct), strict=True)
    }


def replay(
    left: Mapping[str, list[str]],
    right: Mapping[str, list[str]],
    values: Mapping[str, bytes | str],
    limits: MatchingSettings,
) -> dict[str, Blocked]:
    """Each left record's candidates: the application's blocking rule, then the real-key filter."""
    rows: dict[bytes | str, list[str]] = defaultdict(list)
    for record_id, keys in right.items():
        for value in {values[key] for key in keys}:
            rows[value].append(record_id)
    crowded = {value for value, ids in rows.items() if len(ids) > limits.max_key_records}
    right_keys = {record_id: set(keys) for record_id, keys in right.items()}
    scored = {}
    for record_id, keys in left.items():
        shared: Counter[str] = Counter()
        for value in {values[key] for key in keys} - crowded:
            shared.update(rows.get(value, ()))
        blocked = sorted(shared, key=lambda other: (-shared[other], other))[
            : limits.max_candidates * CANDIDATE_HEADROOM
        ]
        mine = set(keys)
        real = {other: len(mine & right_keys[other]) for other in blocked}
        kept = sorted((other for other in blocked if real[other]), key=lambda other: (-real[other], other))
        scored[record_id] = Blocked(decrypted=blocked, scored=kept[: limits.max_candidates])
    return scored


def measure(
    name: str, left: dict[str, list[str]], right: dict[str, list[str]], pairs: set[tuple[str, str]]
) -> None:
    limits = MatchingSettings()
    every_key = [key for keys in (*left.values(), *right.values()) for key in keys]
    distinct = len(set(every_key))
    for_data = plan_index_bits(distinct).bits
    print(
        f"\n{name}: {len(left)} x {len(right)} records, {len(pairs)} true pairs, {distinct} distinct "
        f"blocking keys; max {limits.max_candidates} candidates, keys shared by over "
        f"{limits.max_key_records} rows crowded"
    )
    print(
        f"{'truncation':32} {'bits':>5} {'keys/value':>10} {'recall':>8} {'decrypted/rec':>14} "
        f"{'scored/rec':>11}"
    )
    for label, bits in (
        ("exact", None),
        ("shipped", IndexPlanning().bits(MATCH_BLOCK)),
        ("planned for this data", for_data),
        ("stress (16x the plan's merging)", for_data - 4),
    ):
        started = time.perf_counter()
        values = hashed(every_key, bits)
        scored = replay(left, right, values, limits)
        found = sum(1 for left_id, right_id in pairs if right_id in scored[left_id].scored)
        decrypted = sum(len(blocked.decrypted) for blocked in scored.values()) / len(left)
        kept = sum(len(blocked.scored) for blocked in scored.values()) / len(left)
        print(
            f"{label:32} {bits if bits else '-':>5} {distinct / len(set(values.values())):10.2f} "
            f"{found / len(pairs):8.4f} {decrypted:14.1f} {kept:11.1f}  "
            f"({time.perf_counter() - started:.1f} s)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "bench")
    parser.add_argument("--datasets", nargs="+", default=["dev-rfl", "febrl4"])
    parser.add_argument("--small", action="store_true", help=f"the first {SMALL_ROWS} records of each side")
    args = parser.parse_args()
    limit = SMALL_ROWS if args.small else None
    for name in args.datasets:
        folder = args.data / name
        left, right = read(folder / "left.csv", limit), read(folder / "right.csv", limit)
        measure(name, left, right, truth(folder / "truth.csv", left, right))


if __name__ == "__main__":
    main()
