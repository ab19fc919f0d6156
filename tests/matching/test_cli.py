"""The command line contract: output headers, threshold, top-k, and every bad-input path (exit 2)."""

import csv
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from matching.cli import main
from matching.records import FIELDS

from .conftest import LEFT, RIGHT

Writer = Callable[[str, list[list[str]]], str]


def rows_of(records: list[dict[str, str]]) -> list[list[str]]:
    return [list(FIELDS)] + [[r.get(f, "") for f in FIELDS] for r in records]


@pytest.fixture
def files(write_csv: Writer) -> tuple[str, str]:
    return write_csv("left.csv", rows_of(LEFT)), write_csv("right.csv", rows_of(RIGHT))


def read(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_link_writes_the_contract_header(
    files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pairs.csv"
    assert main(["link", "--left", files[0], "--right", files[1], "--out", str(out)]) == 0
    rows = read(out)
    assert rows[0] == ["left_id", "right_id", "match_probability", "match_weight"]
    assert all(float(r[2]) >= 0.5 for r in rows[1:])
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout stays clean
    assert "wrote" in captured.err  # progress on stderr


def test_threshold_zero_with_top_k_ranks_candidates(files: tuple[str, str], tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    assert (
        main(
            [
                "--quiet",
                "link",
                "--left",
                files[0],
                "--right",
                files[1],
                "--out",
                str(out),
                "--threshold",
                "0",
                "--top-k",
                "2",
            ]
        )
        == 0
    )
    rows = read(out)[1:]
    per_left: dict[str, list[float]] = {}
    for lid, _rid, _p, w in rows:
        per_left.setdefault(lid, []).append(float(w))
    assert per_left
    assert all(len(v) <= 2 and v == sorted(v, reverse=True) for v in per_left.values())
    assert {"L1", "L2", "L3", "L4", "L5"} <= set(per_left)


def test_dedupe_header(write_csv: Writer, tmp_path: Path) -> None:
    path = write_csv("input.csv", rows_of([*LEFT, dict(LEFT[3], id="L4b")]))
    out = tmp_path / "pairs.csv"
    assert main(["--quiet", "dedupe", "--input", path, "--out", str(out)]) == 0
    rows = read(out)
    assert rows[0] == ["id_l", "id_r", "match_probability", "match_weight"]
    assert ["L4", "L4b"] in [r[:2] for r in rows[1:]]


def run_bad(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the command expecting exit 2; return the single line on stderr."""
    assert main(["--quiet", *argv]) == 2
    err = capsys.readouterr()
    assert err.out == ""
    lines = err.err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


BAD_CASES = {
    "no id column": ([["name", "given_name"], ["1", "Ali"]], ["row 1", "column id"]),
    "duplicate id": (rows_of([LEFT[0], LEFT[0]]), ["row 3", "column id", "duplicate"]),
    "empty id": (rows_of([dict(LEFT[0], id="")]), ["row 2", "column id"]),
    "bad age": (rows_of([dict(LEFT[4], age="about thirty")]), ["row 2", "column age"]),
    "bad sex": (rows_of([dict(LEFT[0], sex="male")]), ["row 2", "column sex"]),
    "too many fields": ([["id", "given_name"], ["1", "Ali", "extra"]], ["row 2"]),
    "empty file": ([], ["row 1"]),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_left_file(
    case: str, write_csv: Writer, files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows, expected = BAD_CASES[case]
    bad = write_csv("bad.csv", rows)
    out = tmp_path / "pairs.csv"
    line = run_bad(["link", "--left", bad, "--right", files[1], "--out", str(out)], capsys)
    assert "bad.csv" in line
    for piece in expected:
        assert piece in line
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".matching-")] == []


def test_bad_right_file_is_named(
    files: tuple[str, str], write_csv: Writer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_csv("right-bad.csv", rows_of([dict(RIGHT[0], id="")]))
    line = run_bad(["link", "--left", files[0], "--right", bad, "--out", str(tmp_path / "o.csv")], capsys)
    assert "right-bad.csv" in line
    assert "row 2" in line
    assert "column id" in line


def test_missing_file(files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.csv"
    line = run_bad(
        ["link", "--left", str(tmp_path / "nope.csv"), "--right", files[1], "--out", str(out)], capsys
    )
    assert "nope.csv" in line
    assert not out.exists()


def test_not_utf8(files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("id,given_name\n1,J\xfcrgen\n".encode("latin-1"))
    line = run_bad(
        ["link", "--left", str(bad), "--right", files[1], "--out", str(tmp_path / "o.csv")], capsys
    )
    assert "latin1.csv" in line
    assert "UTF-8" in line


def test_dedupe_bad_input(write_csv: Writer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_csv("in.csv", rows_of([LEFT[0], LEFT[0]]))
    out = tmp_path / "o.csv"
    line = run_bad(["dedupe", "--input", bad, "--out", str(out)], capsys)
    assert "in.csv" in line
    assert "row 3" in line
    assert "column id" in line
    assert not out.exists()


def test_output_folder_missing(
    files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no" / "such" / "o.csv"
    line = run_bad(["link", "--left", files[0], "--right", files[1], "--out", str(out)], capsys)
    assert "o.csv" in line


def test_existing_output_is_left_intact_on_error(
    write_csv: Writer, files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.csv"
    out.write_text("previous\n")
    bad = write_csv("bad.csv", rows_of([dict(LEFT[0], birth_date="x")]))
    run_bad(["link", "--strict", "--left", bad, "--right", files[1], "--out", str(out)], capsys)
    assert out.read_text() == "previous\n"


BAD_DATES = {
    "day 92": ("birth_date", "1955-11-92"),
    "month 13": ("birth_date", "1985-13-40"),
    "a word": ("birth_date", "tomorrow"),
    "slashes": ("record_date", "2020/06/01"),
    "year 0": ("birth_date", "0000-01-02"),
}


@pytest.mark.parametrize("case", list(BAD_DATES))
def test_strict_makes_an_invalid_date_bad_input(
    case: str, write_csv: Writer, files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    column, value = BAD_DATES[case]
    bad = write_csv("bad.csv", rows_of([LEFT[0], dict(LEFT[4], **{column: value})]))
    out = tmp_path / "o.csv"
    line = run_bad(["link", "--left", bad, "--right", files[1], "--out", str(out), "--strict"], capsys)
    assert "bad.csv" in line
    assert "row 3" in line
    assert f"column {column}" in line
    assert value not in line  # a birth date is personal data: the row and column locate it
    assert not out.exists()


def test_an_invalid_date_is_read_as_missing_counted_and_reported(
    write_csv: Writer, files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a file whose birth dates are corrupted on seven rows, one of them a true pair's (L1 = R1)
    records = [dict(LEFT[0], birth_date="1990-05-92"), *LEFT[1:]]
    records += [dict(LEFT[3], id=f"C{n}", given_name=f"Copy{n}", birth_date="1972-02-30") for n in range(6)]
    left = write_csv("left.csv", rows_of(records))
    out = tmp_path / "pairs.csv"
    # When it is linked without --strict (and quietly)
    argv = ["--quiet", "link", "--left", left, "--right", files[1], "--out", str(out), "--threshold", "0"]
    assert main([*argv, "--top-k", "1"]) == 0
    # Then one line on stderr names the file, the column, the count and the first rows
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "left.csv" in err[0]
    assert "column birth_date: 7 values" in err[0]
    assert "rows 2, 8, 9, 10, 11 and 2 more" in err[0]
    assert "1990-05-92" not in err[0]
    # and the records are linked, the bad dates read as missing
    assert ["L1", "R1"] in [r[:2] for r in read(out)[1:]]


def test_every_valid_iso_date_is_a_date(
    write_csv: Writer, files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write_csv(
        "old.csv", rows_of([dict(LEFT[0], birth_date="0987-03-01"), dict(LEFT[1], birth_date="9999")])
    )
    out = tmp_path / "pairs.csv"
    assert main(["--quiet", "link", "--strict", "--left", old, "--right", files[1], "--out", str(out)]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "extra", [["--threshold", "1.5"], ["--threshold", "high"], ["--top-k", "0"], ["--top-k", "ten"]]
)
def test_bad_options(
    extra: list[str], files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.csv"
    with pytest.raises(SystemExit) as exc:
        main(["link", "--left", files[0], "--right", files[1], "--out", str(out), *extra])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["link", "--left", "a.csv"])
    assert exc.value.code == 2


def test_module_entry_point(files: tuple[str, str], tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "matching",
            "link",
            "--left",
            files[0],
            "--right",
            files[1],
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert read(out)[0][0] == "left_id"


def test_empty_side_gives_a_header_only(write_csv: Writer, files: tuple[str, str], tmp_path: Path) -> None:
    empty = write_csv("empty.csv", [list(FIELDS)])
    out = tmp_path / "pairs.csv"
    assert main(["--quiet", "link", "--left", files[0], "--right", empty, "--out", str(out)]) == 0
    assert read(out) == [["left_id", "right_id", "match_probability", "match_weight"]]
    assert main(["--quiet", "dedupe", "--input", empty, "--out", str(out)]) == 0
    assert read(out) == [["id_l", "id_r", "match_probability", "match_weight"]]
