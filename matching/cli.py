"""``python -m matching link|dedupe``: the command line every benchmark uses.

Exit status 0 on success, 2 on bad input or usage (one line on stderr naming file, row and column).
A date that is not a valid date is read as missing and reported on stderr (how many, the first rows);
with ``--strict`` it is bad input. Progress goes to stderr; stdout stays clean.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from matching.errors import InputError, MatchingError
from matching.io import DEDUPE_HEADER, LINK_HEADER, read_records, unreadable_dates_report, write_pairs
from matching.linker import Linker
from matching.records import Prepared


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _probability(text: str) -> float:
    try:
        p = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= p <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text!r}")
    return p


def _positive(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if k < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return k


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m matching", description="Link or deduplicate person records.")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    link = sub.add_parser("link", help="link two record sets")
    link.add_argument("--left", required=True, type=Path)
    link.add_argument("--right", required=True, type=Path)
    link.add_argument(
        "--top-k",
        type=_positive,
        default=None,
        help="keep at most K best right records per left record (after the threshold)",
    )
    dd = sub.add_parser("dedupe", help="find duplicates within one record set")
    dd.add_argument("--input", required=True, type=Path)
    for p in (link, dd):
        p.add_argument("--out", required=True, type=Path)
        p.add_argument(
            "--threshold",
            type=_probability,
            default=0.5,
            help="keep pairs with match_probability >= P (0 keeps every candidate pair)",
        )
        p.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress")
        p.add_argument(
            "--strict", action="store_true", help="a date that is not a valid date is an error, not missing"
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    start = time.monotonic()

    def progress(msg: str) -> None:
        if not args.quiet:
            print(f"[{time.monotonic() - start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    try:
        if not args.out.parent.exists():
            raise InputError("the output folder does not exist", source=str(args.out))
        linker = Linker(progress=progress)

        def read(path: Path) -> list[Prepared]:
            records = read_records(path, linker.vocab, strict_dates=args.strict)
            for line in unreadable_dates_report(path, records):
                print(line, file=sys.stderr, flush=True)  # about the data, so also when quiet
            return records

        if args.command == "link":
            progress(f"reading {args.left} and {args.right}")
            left = read(args.left)
            right = read(args.right)
            links = linker.link(left, right)
            rows = links.rows(args.threshold, args.top_k)
            header = LINK_HEADER
        else:
            progress(f"reading {args.input}")
            records = read(args.input)
            links = linker.dedupe(records)
            rows = links.rows(args.threshold)
            header = DEDUPE_HEADER
        n = write_pairs(args.out, header, rows)
        progress(f"wrote {n} pairs to {args.out}")
    except MatchingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
