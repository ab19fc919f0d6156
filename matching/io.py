"""Reading canonical record CSV files and writing scored pairs atomically."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from matching.errors import InputError
from matching.linker import prepare_all
from matching.records import Prepared, Vocabulary

FIRST_ROW = 2  # the row of a file's first record (1 is the header)
REPORTED_ROWS = 5  # rows named when values are read as missing
LINK_HEADER = ("left_id", "right_id", "match_probability", "match_weight")
DEDUPE_HEADER = ("id_l", "id_r", "match_probability", "match_weight")


def read_records(path: str | Path, vocab: Vocabulary, *, strict_dates: bool = False) -> list[Prepared]:
    """Read and prepare a canonical CSV; errors name the file, the row (1 = header) and the column.

    A birth or record date that is not a valid date is read as missing (see
    :func:`unreadable_dates_report`), or, with ``strict_dates``, is an error like any other.
    """
    name = str(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames
            if not header:
                raise InputError("empty file, no header row", source=name, row=1)
            if "id" not in header:
                raise InputError("no id column in the header", source=name, row=1, column="id")
            rows = []
            for n, row in enumerate(reader, start=2):
                if None in row:
                    raise InputError("more fields than the header has", source=name, row=n)
                rows.append(row)
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", source=name) from None
    except csv.Error as exc:
        raise InputError(f"malformed CSV ({exc})", source=name) from None
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", source=name) from None
    return prepare_all(rows, vocab, source=name, first_row=FIRST_ROW, strict_dates=strict_dates)


def unreadable_dates_report(path: str | Path, records: Sequence[Prepared]) -> list[str]:
    """One line per date column of a file whose values were read as missing: how many, the first rows."""
    rows: dict[str, list[int]] = {}
    for n, rec in enumerate(records):
        for column in rec.unreadable_dates:
            rows.setdefault(column, []).append(n + FIRST_ROW)
    lines = []
    for column, found in rows.items():
        shown = ", ".join(str(r) for r in found[:REPORTED_ROWS])
        more = f" and {len(found) - REPORTED_ROWS} more" if len(found) > REPORTED_ROWS else ""
        lines.append(
            f"warning: {path}: column {column}: {len(found)} values are not valid dates and were read as "
            f"missing (rows {shown}{more}); --strict refuses them"
        )
    return lines


def write_pairs(
    path: str | Path, header: tuple[str, ...], rows: Iterable[tuple[str, str, float, float]]
) -> int:
    """Write pairs to a temporary file beside ``path`` and rename it: never a half-written output."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".matching-", suffix=".csv", dir=target.parent or ".")
    n = 0
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for a, b, p, wt in rows:
                w.writerow((a, b, f"{p:.6f}", f"{wt:.4f}"))
                n += 1
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n
