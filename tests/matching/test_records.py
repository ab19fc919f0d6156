"""Records: validation and the comparable form (prepare), the vocabulary, and the columnar table."""

import numpy as np
import pytest

from matching import InputError
from matching.dates import BirthDate
from matching.normalise import name_tokens
from matching.records import NAME_SLOTS, TF_PSEUDO, Prepared, RecordTable, Vocabulary, name_key, prepare


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


# --- prepare: the comparable form of one record -----------------------------------------------------
def originals(vocab: Vocabulary, ids: list[int]) -> list[str]:
    return [vocab.tokens[t].original for t in ids]


@pytest.mark.parametrize("rid", ["", "   ", None])
def test_a_record_needs_an_id(rid: str | None) -> None:
    with pytest.raises(InputError) as err:
        prepare({"id": rid, "given_name": "Ali"}, Vocabulary())
    assert err.value.column == "id"


def test_an_alias_in_another_script_adds_no_name_but_a_repeated_name_does() -> None:
    vocab = Vocabulary()
    rec = prepare(
        {
            "id": "1",
            "given_name": "محمد",
            "family_name": "Hassan",
            "alternate_names": ["Mohamed", "Hasan Ali"],
        },
        vocab,
    )
    # Mohamed is محمد again and Hasan is Hassan again; Ali is a name the aliases add
    assert originals(vocab, rec.names) == ["محمد", "hassan", "ali"]
    assert (rec.n_own, rec.n_primary) == (3, 2)
    twice = prepare({"id": "2", "full_name": "Mohammed Mohamed Abdullah"}, vocab)
    assert originals(vocab, twice.names) == ["mohammed", "mohamed", "abdullah"]


def test_aliases_may_be_a_list_or_a_joined_text() -> None:
    vocab = Vocabulary()
    as_list = prepare({"id": "1", "given_name": "Rawan", "alternate_names": ["روان", "Rawaan"]}, vocab)
    as_text = prepare({"id": "1", "given_name": "Rawan", "alternate_names": "روان|Rawaan"}, vocab)
    assert (as_list.names, as_list.given) == (as_text.names, as_text.given)


def test_given_names_are_the_first_names_of_every_way_the_person_is_written() -> None:
    vocab = Vocabulary()
    rec = prepare(
        {"id": "1", "given_name": "محمد", "family_name": "Hassan", "alternate_names": ["Mohamed Hasan"]},
        vocab,
    )
    assert originals(vocab, rec.given) == ["محمد", "mohamed"]
    # without a given name, the full name's first
    rec = prepare({"id": "2", "full_name": "Tesfaye Kidane"}, vocab)
    assert originals(vocab, rec.given) == ["tesfaye"]


def test_the_fathers_first_names_join_the_names_after_the_own_ones() -> None:
    vocab = Vocabulary()
    rec = prepare({"id": "1", "given_name": "Robel", "father_name": "Yonas Tekle"}, vocab)
    assert originals(vocab, rec.names) == ["robel", "yonas", "tekle"]
    assert rec.n_own == 1
    assert originals(vocab, rec.father) == ["yonas", "tekle"]
    # a father's name already among the person's own names is not added twice
    rec = prepare({"id": "2", "given_name": "Robel", "family_name": "Yonas", "father_name": "Yonas"}, vocab)
    assert originals(vocab, rec.names) == ["robel", "yonas"]


def test_a_long_name_keeps_at_most_the_name_slots() -> None:
    vocab = Vocabulary()
    many = " ".join(f"Name{chr(ord('a') + i)}" for i in range(NAME_SLOTS + 5))
    rec = prepare({"id": "1", "full_name": many, "father_name": "Yonas"}, vocab)
    assert len(rec.names) == NAME_SLOTS
    assert originals(vocab, rec.names)[-1] == "yonas"  # room is kept for the father


def test_other_fields_take_their_comparable_form() -> None:
    rec = prepare(
        {
            "id": " 7 ",
            "sex": "f",
            "nationality": "Syria",
            "phone": "+964 770 123 4567",
            "document_id": "p-123 456",
            "birth_place": "  Homs ",
        },
        Vocabulary(),
    )
    assert (rec.id, rec.sex, rec.nationality) == ("7", 1, "SY")
    assert rec.phone == "01234567"  # the last eight digits: with or without country code
    assert rec.document == "P123456"
    assert rec.birth_place == "homs"
    assert prepare({"id": "1", "sex": "U"}, Vocabulary()).sex == 0


@pytest.mark.parametrize("sex", ["male", "X", "1"])
def test_a_bad_sex_is_refused_without_its_value(sex: str) -> None:
    with pytest.raises(InputError) as err:
        prepare({"id": "1", "sex": sex}, Vocabulary())
    assert err.value.column == "sex"
    assert sex not in str(err.value)


# --- the vocabulary -----------------------------------------------------------------------------------
def test_a_token_has_one_id() -> None:
    vocab = Vocabulary()
    [a] = name_tokens("Mohammed")
    assert vocab.add(a) == vocab.add(a) == 0
    assert len(vocab) == 1


def test_name_keys_are_skeletons_or_short_latin_forms() -> None:
    assert name_key(name_tokens("Mohammed")[0]) == name_key(name_tokens("محمد")[0]) == "mhmd"
    # Ali, Eli and Ola share the skeleton "l": too short to stand for a name
    assert [name_key(t) for t in name_tokens("Ali Eli")] == ["=ali", "=eli"]


def count(vocab: Vocabulary, *names: str) -> list[Prepared]:
    records = [prepare({"id": str(n), "full_name": name}, vocab) for n, name in enumerate(names)]
    RecordTable(vocab, records)
    return records


def test_frequencies_count_records_holding_a_name_in_any_spelling() -> None:
    vocab = Vocabulary()
    recs = count(vocab, "Mohammed Hassan", "Muhammad Ali", "محمد", "Mohammed Mohamed Ali", "Tesfaye")
    freq = vocab.frequencies()
    # four records hold Mohammed (one of them twice), one holds Tesfaye; TF_PSEUDO smooths
    assert freq[recs[0].names[0]] == freq[recs[2].names[0]] == (4 + TF_PSEUDO) / 5
    assert freq[recs[4].names[0]] == (1 + TF_PSEUDO) / 5
    assert vocab.n_records == 5


def test_pair_frequencies_count_records_holding_both_names_in_either_order() -> None:
    vocab = Vocabulary()
    recs = count(vocab, "Mohammed Hassan", "Hassan Muhammad", "Mohammed Ali")
    m, h, a = recs[0].names[0], recs[0].names[1], recs[2].names[1]
    tok_a = np.asarray([m, h, m], dtype=np.int32)
    tok_b = np.asarray([h, m, a], dtype=np.int32)
    f, mean = vocab.pair_frequencies(tok_a, tok_b)
    assert list(f) == [(2 + TF_PSEUDO) / 3, (2 + TF_PSEUDO) / 3, (1 + TF_PSEUDO) / 3]
    pairs = np.asarray([2 + TF_PSEUDO, 1 + TF_PSEUDO]) / 3  # (Mohammed, Hassan) twice, (Mohammed, Ali) once
    assert mean == pytest.approx((pairs**3).sum() / (pairs**2).sum())
    t = vocab.add(name_tokens("Tesfaye")[0])  # a pair never counted
    assert vocab.pair_frequencies(np.asarray([t], dtype=np.int32), np.asarray([m], dtype=np.int32))[0][0] == (
        TF_PSEUDO / 3
    )


def test_name_frequencies_are_keyed_by_name_not_by_id() -> None:
    vocab = Vocabulary()
    count(vocab, "Mohammed Hassan", "Hassan Muhammad", "Ali")
    freq = vocab.name_frequencies()
    assert freq.records == 3
    assert dict(freq.names) == {"mhmd": 2, "hsn": 2, "=ali": 1}
    assert dict(freq.pairs) == {("hsn", "mhmd"): 2}


# --- the columnar table -------------------------------------------------------------------------------
def test_a_table_grown_record_by_record_equals_one_built_at_once(
    left: list[dict[str, str]], right: list[dict[str, str]]
) -> None:
    vocab = Vocabulary()
    records = [prepare(r, vocab) for r in [*left, *right]]
    grown = RecordTable(vocab)
    for rec in records:
        grown.extend([rec])
        grown.columns()  # built as it grows, store doubling
    at_once = RecordTable._build(records)
    got = grown.columns()
    assert got.keys() == at_once.keys()
    for key, col in at_once.items():
        assert np.array_equal(got[key], col), key
    assert grown.ids == [r.id for r in records]
    assert len(grown) == len(records)
    assert vocab.n_records == len(records)  # the table counted them for term frequencies


def test_columns_for_gathers_some_rows(left: list[dict[str, str]]) -> None:
    vocab = Vocabulary()
    table = RecordTable(vocab, [prepare(r, vocab) for r in left])
    some = table.columns_for(np.asarray([3, 0]))
    assert list(some["year_lo"]) == [1972, 1990]
    assert list(some["sex"]) == [1, 2]
    assert some["names"].shape == (2, NAME_SLOTS)
