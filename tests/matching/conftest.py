"""Small hand-made records: requests (left) and sightings (right) of a few people."""

from collections.abc import Callable

import pytest

Record = dict[str, str]


def rec(id: str, **fields: str) -> Record:
    return {"id": id, **fields}


LEFT = [
    rec(
        "L1",
        given_name="Mohammed",
        family_name="Al-Khatib",
        birth_date="1990-05-04",
        sex="M",
        nationality="SY",
        father_name="Ahmad",
        mother_name="Fatima",
    ),
    rec(
        "L2",
        given_name="Abdulrahman",
        family_name="Attar",
        birth_date="1985",
        sex="M",
        nationality="SY",
        father_name="Yusuf",
    ),
    rec(
        "L3",
        given_name="Tesfaye",
        family_name="Kidane",
        birth_date="1993-07-02",
        sex="M",
        nationality="ER",
        father_name="Kidane Gebremedhin",
    ),
    rec("L4", given_name="Iryna", family_name="Ivanenko", birth_date="1972-04-13", sex="F", nationality="UA"),
    rec(
        "L5",
        given_name="Xasan",
        family_name="Cali",
        age="30",
        record_date="2020-06-01",
        sex="M",
        nationality="SO",
    ),
    rec(
        "L6",
        given_name="Rawan",
        family_name="Haddad",
        birth_date="2001-02-03",
        sex="F",
        nationality="IQ",
        father_name="Salim",
        mother_name="Huda",
    ),
]
RIGHT = [
    rec(
        "R1",
        given_name="محمد",
        family_name="الخطيب",
        birth_date="1990-04-05",
        sex="M",
        nationality="Syria",
        father_name="أحمد",
    ),
    rec(
        "R2",
        full_name="Abd al-Rahman Attar",
        birth_date="1985-01-01",
        sex="M",
        nationality="SY",
        father_name="Youssef",
    ),
    rec("R3", given_name="Tesfai", family_name="Kidane", birth_date="1993", sex="M", nationality="ER"),
    rec("R4", given_name="Irina", family_name="Ivanenko", birth_date="1972-04-13", sex="F", nationality="UA"),
    rec("R5", given_name="Hasan", family_name="Ali", birth_date="1990", sex="M", nationality="Somalia"),
    rec(
        "R6",
        given_name="Sami",
        family_name="Haddad",
        birth_date="1998-11-20",
        sex="M",
        nationality="IQ",
        father_name="Salim",
        mother_name="Huda",
    ),
    rec("R7", given_name="Olga", family_name="Petrenko", birth_date="1960-01-20", sex="F", nationality="UA"),
    rec("R8", given_name="Ahmed", family_name="Yousef", birth_date="1975-03-03", sex="M", nationality="SD"),
]
TRUTH = {("L1", "R1"), ("L2", "R2"), ("L3", "R3"), ("L4", "R4"), ("L5", "R5")}


@pytest.fixture
def left() -> list[Record]:
    return [dict(r) for r in LEFT]


@pytest.fixture
def right() -> list[Record]:
    return [dict(r) for r in RIGHT]


@pytest.fixture
def write_csv(tmp_path: pytest.TempPathFactory) -> Callable[..., str]:
    """Write rows (first row = header) to a CSV file in a fresh folder; returns its path."""
    import csv

    def write(name: str, rows: list[list[str]]) -> str:
        path = tmp_path / name  # type: ignore[operator]
        with open(path, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
        return str(path)

    return write
