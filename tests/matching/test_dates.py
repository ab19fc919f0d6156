import pytest

from matching.dates import BirthDate, birth_date, parse_partial_date
from matching.errors import InputError


def test_partial_dates() -> None:
    assert parse_partial_date("1990") == (1990, 0, 0)
    assert parse_partial_date("1990-07") == (1990, 7, 0)
    assert parse_partial_date("1990-07-31") == (1990, 7, 31)


@pytest.mark.parametrize("bad", ["1990-13-01", "1990-02-30", "90", "1990/01/01", "yesterday", "1990-00"])
def test_bad_dates_raise(bad: str) -> None:
    with pytest.raises(InputError):
        parse_partial_date(bad)


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


def test_bad_record_date_names_its_column() -> None:
    with pytest.raises(InputError) as err:
        birth_date("", "30", "2020-99-01")
    assert err.value.column == "record_date"


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
