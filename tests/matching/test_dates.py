"""The one parser of partial dates and ages, and the birth-year intervals they give."""

from datetime import date, timedelta
from typing import Any

import pytest

from matching import InputError, parse_age, parse_partial_date
from matching.dates import BirthDate, Placeholders, birth_date


def test_partial_dates() -> None:
    assert parse_partial_date("1990") == (1990, None, None)
    assert parse_partial_date("1990-07") == (1990, 7, None)
    assert parse_partial_date("1990-07-31") == (1990, 7, 31)
    assert parse_partial_date("2024-02-29") == (2024, 2, 29)


@pytest.mark.parametrize("text", ["0001", "0987-03-01", "1000", "9999-12-31"])
def test_every_year_from_1_to_9999_is_a_year(text: str) -> None:
    assert parse_partial_date(text)[0] == int(text[:4])


BAD_DATES = [
    "1990-13-01",  # no month 13
    "1990-02-30",  # no 30 February
    "2023-02-29",  # not a leap year
    "1955-11-92",  # Febrl's corruption
    "0000",  # no year 0
    "1990-00",
    "1990-01-00",
    "90",
    "1990-7",  # ISO months have two digits
    "1990-07-4",
    "1990/01/01",
    "yesterday",
    "",
    " 1990",  # strict: whoever reads a file strips it first
    "1990\n",
    "１９９０",  # digits of another script
    "19900",
]


@pytest.mark.parametrize("bad", BAD_DATES)
def test_anything_else_is_refused_naming_the_column_not_the_value(bad: str) -> None:
    with pytest.raises(InputError) as err:
        parse_partial_date(bad, column="birth_date")
    assert err.value.column == "birth_date"
    assert not bad.strip() or bad.strip() not in str(err.value)
    assert isinstance(err.value, ValueError)  # what a caller validating input catches


def test_a_date_is_a_text() -> None:
    with pytest.raises(InputError):
        parse_partial_date(1990)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, (0, 0)), (30, (30, 30)), ("30", (30, 30)), ("30-35", (30, 35)), (130, (130, 130))],
)
def test_ages(value: int | str, expected: tuple[int, int]) -> None:
    assert parse_age(value) == expected


@pytest.mark.parametrize(
    "bad", [True, -1, 131, "131", "35-30", "30 - 35", " 30", "thirty", "", 30.5, None, "1-2-3"]
)
def test_bad_ages_are_refused(bad: Any) -> None:
    with pytest.raises(InputError) as err:
        parse_age(bad)
    assert err.value.column == "age"
    assert isinstance(err.value, ValueError)


def test_first_of_january_is_a_placeholder_for_the_year() -> None:
    assert birth_date("1985-01-01", "", "") == BirthDate(1985, 1985)


def test_age_at_record_date_gives_a_year_interval() -> None:
    # aged 30 on 2020-06-01: born between 1989-06-02 and 1990-06-01
    assert birth_date("", "30", "2020-06-01") == BirthDate(1989, 1990)
    assert birth_date("", "30-35", "2020-06-01") == BirthDate(1984, 1990)


def test_birth_date_wins_over_age_and_missing_is_none() -> None:
    assert birth_date("1990-05-04", "40", "2020-01-01") == BirthDate(1990, 1990, 5, 4)
    assert birth_date("", "", "") is None
    assert birth_date("", "30", "") is None


@pytest.mark.parametrize("age", ["thirty", "35-30", "200"])
def test_bad_ages_raise(age: str) -> None:
    with pytest.raises(InputError) as err:
        birth_date("", age, "2020-01-01")
    assert err.value.column == "age"


def test_bad_dates_name_their_column() -> None:
    with pytest.raises(InputError) as err:
        birth_date("", "30", "2020-99-01")
    assert err.value.column == "record_date"
    with pytest.raises(InputError) as err:
        birth_date("1955-11-92", "", "")
    assert err.value.column == "birth_date"


def test_estimated_year_and_age_together_span_both() -> None:
    # 2004-01-01 is a guessed year; aged 19 on 2022-07-07 says 2002 or 2003
    assert birth_date("2004-01-01", "19", "2022-07-07") == BirthDate(2002, 2004)
    # a precise date wins over an age
    assert birth_date("2004-05-06", "19", "2022-07-07") == BirthDate(2004, 2004, 5, 6)
    # estimates too far apart: the stated year stands
    assert birth_date("1990", "19", "2022-07-07") == BirthDate(1990, 1990)


def test_bad_age_is_reported_beside_a_birth_date() -> None:
    with pytest.raises(InputError):
        birth_date("1990-05-04", "old", "2020-01-01")


def _spread_dates(n: int) -> list[str]:
    """n birthdays spread evenly over the calendar, as chance spreads them."""
    return [(date(1950 + k % 50, 1, 1) + timedelta(days=k * 7 % 365)).isoformat() for k in range(n)]


def test_a_list_of_real_birthdays_has_no_placeholder() -> None:
    dates = [*_spread_dates(2000), "1990-01-01", "1985-01-01", "1970-01-01"]
    assert Placeholders.judged(dates) == Placeholders(new_year=False, first_of_month=False)
    assert birth_date("1990-01-01", "", "", Placeholders.judged(dates)) == BirthDate(1990, 1990, 1, 1)


def test_1_january_far_commoner_than_chance_is_a_placeholder() -> None:
    dates = _spread_dates(2000) + [f"{1960 + k % 40}-01-01" for k in range(300)] + ["1990", "", "bad"]
    judged = Placeholders.judged(dates)
    assert judged.new_year
    assert not judged.first_of_month
    assert birth_date("1990-01-01", "", "", judged) == BirthDate(1990, 1990)


def test_the_first_of_every_month_far_commoner_than_chance_means_an_unknown_day() -> None:
    dates = _spread_dates(2000) + [f"{1960 + k % 40}-{2 + k % 11:02d}-01" for k in range(500)]
    judged = Placeholders.judged(dates)
    assert judged.first_of_month
    assert birth_date("1990-05-01", "", "", judged) == BirthDate(1990, 1990, 5, 0)


def test_too_few_dates_keep_the_usual_convention() -> None:
    assert Placeholders.judged(["1990-05-04"] * 20) == Placeholders()
    assert birth_date("1990-01-01", "", "") == BirthDate(1990, 1990)
