"""Records: validation and the comparable form (prepare), the vocabulary, and the columnar table."""

import pytest

from matching import InputError
from matching.dates import BirthDate
from matching.records import Vocabulary, prepare


# --- dates when reading a batch file, and when validating input ---------------------------------
def test_strict_preparation_refuses_an_invalid_date() -> None:
    with pytest.raises(InputError) as err:
        prepare({"id": "1", "given_name": "Ali", "birth_date": "1955-11-92"}, Vocabulary())
    assert err.value.column == "birth_date"


def test_lenient_preparation_reads_an_invalid_date_as_missing_and_says_so() -> None:
    rec = prepare({"id": "1", "birth_date": "1955-11-92"}, Vocabulary(), strict_dates=False)
    assert rec.born is None
    assert rec.unreadable_dates == ("birth_date",)


def test_a_bad_record_date_leaves_the_birth_date_and_loses_only_the_age() -> None:
    vocab = Vocabulary()
    rec = prepare(
        {"id": "1", "birth_date": "1990-05-04", "record_date": "2020-13-01"}, vocab, strict_dates=False
    )
    assert (rec.born, rec.unreadable_dates) == (BirthDate(1990, 1990, 5, 4), ("record_date",))
    rec = prepare({"id": "2", "age": "30", "record_date": "2020-13-01"}, vocab, strict_dates=False)
    assert (rec.born, rec.unreadable_dates) == (None, ("record_date",))
    both = prepare({"id": "3", "birth_date": "x", "record_date": "y"}, vocab, strict_dates=False)
    assert set(both.unreadable_dates) == {"birth_date", "record_date"}


def test_an_invalid_age_is_an_error_also_when_lenient() -> None:
    with pytest.raises(InputError) as err:
        prepare(
            {"id": "1", "age": "about thirty", "record_date": "2020-01-01"}, Vocabulary(), strict_dates=False
        )
    assert err.value.column == "age"


def test_surrounding_spaces_in_a_file_are_no_error() -> None:
    rec = prepare(
        {"id": "1", "birth_date": " 1990-05-04 ", "age": " 30 ", "record_date": "2020-06-01 "}, Vocabulary()
    )
    assert rec.born == BirthDate(1990, 1990, 5, 4)
    assert rec.unreadable_dates == ()


def test_an_age_may_be_a_number() -> None:
    rec = prepare({"id": "1", "age": 30, "record_date": "2020-06-01"}, Vocabulary())
    assert rec.born == BirthDate(1989, 1990)
