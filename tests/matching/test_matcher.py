"""The application's matcher: default model, fit, save and load, blocking keys, scoring, names alone."""

import json
import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from matching import FIELDS, FieldScore, InputError, Matcher, ModelFormatError, Placeholders
from matching.blocking import NAME_PARTS, VALUE_ONLY, record_keys
from matching.matcher import COMPETITION, DEFAULT_MODEL, NAME_FIT_BITS, NO_NAME_EVIDENCE
from matching.records import RecordTable, Vocabulary, prepare

from .conftest import TRUTH

Record = dict[str, object]

REQUEST: Record = {
    "id": "T1",
    "given_name": "Mohammed",
    "family_name": "Al-Hassan",
    "birth_date": "1990",
    "father_name": "Ahmad",
    "sex": "M",
}
# the same man, registered in Arabic script with a Latin spelling, or in Latin only
SIGHTING: Record = {
    "id": "S1",
    "full_name": "محمد الحسن",
    "alternate_names": ["Muhamad Alhasan"],
    "birth_date": "1990",
}
SIGHTING_LATIN: Record = {"id": "S2", "given_name": "Muhamad", "family_name": "Alhasan", "birth_date": "1990"}
OTHER_PEOPLE: list[Record] = [
    {
        "id": "X1",
        "given_name": "Ali",
        "family_name": "Al-Hassan",
        "birth_date": "1993",
        "sex": "M",
    },  # brother
    {"id": "X2", "full_name": "فاطمة الحسن", "birth_date": "1990", "sex": "F"},  # sister
    # namesakes: another father, or born long before
    {
        "id": "X3",
        "given_name": "Mohammed",
        "family_name": "Al-Hassan",
        "birth_date": "1990-05-05",
        "father_name": "Khalid",
    },
    {
        "id": "X4",
        "given_name": "Mohammed",
        "family_name": "Al-Hassan",
        "birth_date": "1972",
        "father_name": "Ibrahim",
    },
    {"id": "X5", "given_name": "Ahmad", "family_name": "Yousef", "birth_date": "1975", "sex": "M"},
]


@pytest.fixture(scope="module")
def default() -> Matcher:
    return Matcher.default()


@pytest.fixture
def fitted(left: list[dict[str, str]], right: list[dict[str, str]]) -> Matcher:
    return Matcher.fit(left, right)


# --- the default model ---------------------------------------------------------------------------
@pytest.mark.parametrize("sighting", [SIGHTING, SIGHTING_LATIN], ids=["arabic script", "latin"])
def test_the_default_model_proposes_a_first_true_pair(default: Matcher, sighting: Record) -> None:
    [score] = default.score(REQUEST, [sighting])
    assert score.match_probability >= 0.5


@pytest.mark.parametrize("other", OTHER_PEOPLE, ids=[str(r["id"]) for r in OTHER_PEOPLE])
def test_the_default_model_does_not_take_relatives_or_namesakes_for_the_person(
    default: Matcher, other: Record
) -> None:
    [score] = default.score(REQUEST, [other])
    assert score.match_probability < 0.5


def test_the_default_model_is_package_data_from_synthetic_data(default: Matcher) -> None:
    assert resources.files("matching").joinpath(DEFAULT_MODEL).is_file()
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    assert DEFAULT_MODEL in pyproject["tool"]["setuptools"]["package-data"]["matching"]
    assert "synthetic" in default.source
    assert "benchmarks/build_default_model.py" in default.source
    assert Matcher.default().version == default.version


# --- fit, save, load, version ---------------------------------------------------------------------
def test_fit_counts_names_of_both_sets_and_finds_the_true_pairs(
    fitted: Matcher, left: list[dict[str, str]], right: list[dict[str, str]]
) -> None:
    assert fitted.frequencies.records == len(left) + len(right)
    by_id = {r["id"]: r for r in left}
    for lid, rid in TRUTH:
        assert fitted.score(by_id[lid], right)[0].id == rid


def test_a_loaded_matcher_scores_bit_for_bit_and_keeps_its_version(
    fitted: Matcher, left: list[dict[str, str]], right: list[dict[str, str]]
) -> None:
    loaded = Matcher.from_dict(json.loads(json.dumps(fitted.to_dict())))
    for record in left:
        assert loaded.score(record, right) == fitted.score(record, right)
        assert loaded.name_scores(record["given_name"], right) == fitted.name_scores(
            record["given_name"], right
        )
    assert loaded.version == fitted.version
    assert re.fullmatch(r"v2-[0-9a-f]{20}", fitted.version)


def test_an_unknown_format_version_is_refused(fitted: Matcher) -> None:
    data = fitted.to_dict()
    data["format_version"] = 99
    with pytest.raises(ModelFormatError, match="format version 99"):
        Matcher.from_dict(data)


def test_labels_given_to_fit_refine_the_model(
    left: list[dict[str, str]], right: list[dict[str, str]]
) -> None:
    # officers rejected the sibling pair L6 / R6 many times
    labels = [(left[5], right[5], False)] * 200
    plain = Matcher.fit(left, right)
    refined = Matcher.fit(left, right, labels=labels)
    assert refined.version != plain.version
    assert (
        refined.score(left[5], [right[5]])[0].match_weight < plain.score(left[5], [right[5]])[0].match_weight
    )


def test_refine_gives_a_new_matcher_and_leaves_this_one(
    fitted: Matcher, left: list[dict[str, str]], right: list[dict[str, str]]
) -> None:
    version = fitted.version
    before = fitted.score(left[3], [right[3]])[0]
    refined = fitted.refine([(left[3], right[3], True)] * 100)
    assert fitted.version == version
    assert fitted.score(left[3], [right[3]])[0] == before
    assert refined.version != version
    assert "refined with 100 officer decisions" in refined.source
    assert fitted.refine([]) is fitted


def test_a_bad_label_names_its_row(
    fitted: Matcher, left: list[dict[str, str]], right: list[dict[str, str]]
) -> None:
    with pytest.raises(InputError) as err:
        fitted.refine([(left[0], right[0], True), (left[1], dict(right[1], sex="male"), False)])
    assert (err.value.row, err.value.column) == (1, "sex")


# --- blocking keys -------------------------------------------------------------------------------
RICH: Record = {
    "id": "K1",
    "given_name": "M.",  # an initial
    "family_name": "Haddad",
    "full_name": "M. Salim Haddad",
    "alternate_names": ["محمد سليم حداد"],
    "sex": "F",
    "birth_date": "1990-05-04",
    "nationality": "IQ",
    "father_name": "Salim Haddad",
    "mother_name": "Huda",
    "phone": "+964 770 123 4567",
    "document_id": "A1234567",
}


def test_every_blocking_key_holds_a_name_and_never_a_value_alone(default: Matcher) -> None:
    keys = default.blocking_keys(RICH)
    assert keys == sorted(set(keys))
    for key in keys:
        kind, *parts = key.split("|")
        assert kind in NAME_PARTS
        assert any(sum(c.isalpha() for c in parts[i - 1]) >= 2 for i in NAME_PARTS[kind])
    joined = "\n".join(keys)
    for value in ("7701234567", "1234567", "A1234567", "1990-5-4"):
        assert value not in joined
    # the initial alone, or with a year only, is too little of a name; beside another name it counts
    assert not [k for k in keys if k.startswith(("n|=m", "y|=m", "yx|=m", "yp|=m"))]
    assert "nn|=m|hd" in keys
    assert not any(re.fullmatch(r"[^|]+\|\d+(-\d+)*", k) for k in keys)  # no kind + year or date alone


def test_every_kind_of_batch_key_is_either_a_name_key_or_left_out() -> None:
    vocab = Vocabulary()
    kinds = {k.split("|")[0] for k in record_keys(prepare(RICH, vocab), vocab, split_crowds=True)}
    assert kinds <= set(NAME_PARTS) | set(VALUE_ONLY)
    assert set(VALUE_ONLY) <= kinds  # the record has all three, and they are the ones left out


def test_a_true_pair_shares_blocking_keys(default: Matcher) -> None:
    assert set(default.blocking_keys(REQUEST)) & set(default.blocking_keys(SIGHTING))
    assert set(default.blocking_keys(REQUEST)) & set(default.blocking_keys(SIGHTING_LATIN))


# --- scoring -------------------------------------------------------------------------------------
def test_scores_come_best_first_with_an_explanation_that_adds_up(
    fitted: Matcher, left: list[dict[str, str]], right: list[dict[str, str]]
) -> None:
    scores = fitted.score(left[0], right)
    assert [s.match_weight for s in scores] == sorted((s.match_weight for s in scores), reverse=True)
    assert {s.id for s in scores} == {r["id"] for r in right}
    for s in scores:
        assert all(isinstance(f, FieldScore) for f in s.explanation)
        assert sum(f.weight for f in s.explanation) == pytest.approx(s.match_weight, abs=0.01 * 14)
        assert s.explanation[-1].field == COMPETITION


def test_candidates_compete_for_the_record(default: Matcher) -> None:
    [alone] = default.score(REQUEST, [SIGHTING])
    together = {s.id: s for s in default.score(REQUEST, [SIGHTING, OTHER_PEOPLE[2]])}
    assert together["S1"].match_probability < alone.match_probability
    assert together["S1"].explanation[-1].weight < 0
    assert all(f.field != COMPETITION for f in alone.explanation)


def test_a_score_holds_no_name_or_value(
    fitted: Matcher, left: list[dict[str, str]], right: list[dict[str, str]]
) -> None:
    values = {str(v).casefold() for r in [*left, *right] for k, v in r.items() if k != "id"}
    words = {w for v in values for w in re.split(r"[\s\-]+", v) if len(w) >= 3}
    for record in left:
        for s in fitted.score(record, right):
            text = " ".join(f"{f.field} {f.level} {f.weight}" for f in s.explanation).casefold()
            assert not words & set(re.split(r"[\s_]+", text))


def test_records_parsed_once_score_in_every_call_exactly_as_the_records_do(
    fitted: Matcher, left: list[dict[str, str]], right: list[dict[str, str]]
) -> None:
    """A job parses a candidate once and scores it for hundreds of records, each call numbering names
    in a vocabulary of its own: nothing may depend on the parse being shared."""
    parsed = [fitted.parse(record) for record in right]
    for record in left:
        assert fitted.score(fitted.parse(record), parsed) == fitted.score(record, right)


def test_many_records_scored_in_one_pass_score_as_one_call_each(
    fitted: Matcher, left: list[dict[str, str]], right: list[dict[str, str]]
) -> None:
    """Each record's candidates compete for it alone: none alone, one, several, the same candidates for
    two records, and a record without candidates."""
    groups = [
        (left[0], right),
        (left[1], right[1:2]),
        (left[2], []),
        (left[3], right[:4]),
        (left[4], right),
    ]

    together = fitted.score_many(groups, threshold=0.01)

    assert together == [fitted.score(record, candidates, threshold=0.01) for record, candidates in groups]
    assert together[0]
    assert together[1]
    assert together[2] == []


def test_a_jobs_scoring_keeps_what_it_read_yet_scores_as_the_matchers_own_calls(
    fitted: Matcher, default: Matcher, left: list[dict[str, str]], right: list[dict[str, str]]
) -> None:
    """A job's calls share one vocabulary and keep the parsed records they prepared: a name or a record
    met in an earlier call is not read again, and nothing met changes a later score (the fitted and
    the shipped model; records given as they are and parsed; records of both scripts)."""
    ethiopic = {"id": "T9", "full_name": "ሃና ተስፋይ", "birth_date": "1990"}
    tesfay = {"id": "S9", "given_name": "Hanna", "family_name": "Tesfay", "birth_date": "1990"}
    for matcher in (fitted, default):
        parsed = [matcher.parse(record) for record in right]
        calls = [
            [(left[0], parsed), (left[1], parsed[1:3])],
            [(left[2], right[:5]), (ethiopic, [tesfay, *parsed[:2]])],
            [(left[0], right), (left[3], [])],
        ]
        scoring = matcher.scoring()

        shared = [scoring.score_many(groups, threshold=0.01) for groups in calls]

        names_read, records_kept = len(scoring._vocab), len(scoring._prepared)
        again = scoring.score_many(calls[0], threshold=0.01)

        assert shared == [matcher.score_many(groups, threshold=0.01) for groups in calls]
        assert shared[0][0]
        assert again == shared[0]
        assert len(scoring._vocab) == names_read > 0
        assert len(scoring._prepared) == records_kept == len(parsed)


def test_a_jobs_scoring_builds_each_parsed_candidate_into_columns_once(
    default: Matcher, right: list[dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A candidate of many records is compared from the columns built the first time it was met; a
    candidate given as it is (not kept) is built for its own call."""
    built: list[int] = []
    build = RecordTable._build
    monkeypatch.setattr(
        RecordTable, "_build", staticmethod(lambda rows: built.append(len(rows)) or build(rows))
    )
    parsed = [default.parse(record) for record in right[:6]]
    request = default.parse(dict(REQUEST))
    scoring = default.scoring()

    first = scoring.score_many([(request, parsed[:4])])
    second = scoring.score_many([(request, parsed[2:])])
    given = scoring.score_many([(request, [right[0], *parsed[4:]])])

    assert built == [1, 4, 1, 2, 1, 3]  # the record, then its new candidates only (all of them at last)
    assert first == default.score_many([(request, parsed[:4])])
    assert second == default.score_many([(request, parsed[2:])])
    assert given == default.score_many([(request, [right[0], *parsed[4:]])])


def test_a_score_does_not_depend_on_the_records_scored_beside_it(default: Matcher) -> None:
    """ተስፋይ transliterates to the letters of the Latin name Tesfay: the two are different tokens (one
    crosses scripts), whichever of them a vocabulary met first."""
    request = {"id": "T1", "given_name": "Hanna", "family_name": "Tesfaye", "birth_date": "1990"}
    sighting = {"id": "S1", "given_name": "Hanna", "family_name": "Tesfay", "birth_date": "1990"}
    ethiopic = {"id": "T2", "full_name": "ሃና ተስፋይ", "birth_date": "1990"}
    rival = {"id": "S2", "given_name": "Hana", "family_name": "Tesfay", "birth_date": "1991"}

    beside = default.score_many([(ethiopic, [sighting]), (request, [sighting, rival])])

    assert beside[1] == default.score(request, [sighting, rival])
    assert beside[0] == default.score(ethiopic, [sighting])


def test_scoring_many_refuses_a_candidate_given_twice_for_one_record(default: Matcher) -> None:
    with pytest.raises(InputError, match="duplicate candidate id"):
        default.score_many([(REQUEST, [SIGHTING]), (REQUEST, [SIGHTING, dict(SIGHTING_LATIN, id="S1")])])
    assert default.score_many([(REQUEST, [SIGHTING]), (dict(REQUEST, id="R2"), [SIGHTING])])


def test_a_record_parsed_with_other_placeholders_is_read_again_with_the_matchers(default: Matcher) -> None:
    record = dict(REQUEST, birth_date="1990-03-01")
    first_of_month = Placeholders(new_year=True, first_of_month=True)
    judged = Matcher(default.model, default.frequencies, placeholders=first_of_month)
    usual = default.parse(record)

    again = judged.parse(usual)

    assert again.placeholders == first_of_month
    assert again.own.born == judged.parse(record).own.born != usual.own.born
    assert judged.score(usual, [SIGHTING]) == judged.score(record, [SIGHTING])


def test_no_candidates_give_no_scores(default: Matcher) -> None:
    assert default.score(REQUEST, []) == []


def test_duplicate_candidate_ids_are_refused(default: Matcher) -> None:
    with pytest.raises(InputError) as err:
        default.score(REQUEST, [SIGHTING, dict(SIGHTING_LATIN, id="S1")])
    assert (err.value.row, err.value.column) == (1, "id")


def test_a_bad_candidate_is_refused_by_row_and_column_without_its_value(default: Matcher) -> None:
    with pytest.raises(InputError) as err:
        default.score(REQUEST, [SIGHTING, dict(SIGHTING_LATIN, sex="male")])
    assert (err.value.source, err.value.row, err.value.column) == ("candidates", 1, "sex")
    assert "male" not in str(err.value)


def test_explain_aligns_the_names_for_a_reviewing_officer(default: Matcher) -> None:
    exp = default.explain(REQUEST, SIGHTING)
    fields = {f.field: f for f in exp.fields}
    assert fields["birth_date"].level == "same year"
    assert ("mohammed", "محمد") in {(t.left, t.right) for t in fields["given_name"].alignment}
    [alone] = default.score(REQUEST, [SIGHTING])
    assert exp.match_weight == pytest.approx(alone.match_weight, abs=0.01)


# --- names alone ---------------------------------------------------------------------------------
def names(*given: str) -> list[Record]:
    return [{"given_name": g} for g in given]


def test_name_score_tells_mohammed_from_mahmoud(default: Matcher) -> None:
    muhammad, mahmoud, latin_muhammad, mohamed = default.name_scores(
        "Mohammed", names("محمد", "محمود", "Muhammad", "Mohamed")
    )
    assert muhammad > 100 * mahmoud
    assert min(latin_muhammad, mohamed) > 100 * mahmoud
    assert muhammad >= max(latin_muhammad, mohamed)


def test_name_order_only_breaks_ties_and_more_agreeing_names_rank_higher(default: Matcher) -> None:
    records: list[Record] = [
        {"given_name": "Mohammed", "family_name": "Hassan"},
        {"given_name": "Hassan", "family_name": "Mohammed"},
        {"full_name": "محمد حسن"},
        {"given_name": "Mohammed"},
        {"given_name": "Mohammed", "family_name": "Ali"},
    ]
    both, swapped, arabic, one, other = default.name_weights("Mohammed Hassan", records)
    assert both - swapped == pytest.approx(NAME_FIT_BITS)  # the names in the query's order fit closer
    assert both == arabic
    assert min(both, swapped) > one > other
    reversed_query = default.name_weights("Hassan Mohammed", records)
    assert reversed_query[1] - reversed_query[0] == pytest.approx(NAME_FIT_BITS)


def test_a_record_with_names_the_query_does_not_have_ranks_after_the_closer_fit(default: Matcher) -> None:
    # both names agree with both records; the second also holds a grandfather's name the query lacks
    exact, longer = default.name_weights(
        "أمين طارق", [{"full_name": "Amin Tarik"}, {"full_name": "Ahmed Amin Tarik"}]
    )
    assert exact - longer == pytest.approx(2 * NAME_FIT_BITS)  # in place, and nothing left over


def test_a_family_name_alone_finds_the_family(default: Matcher) -> None:
    family, stranger = default.name_scores("Alhasan", [dict(REQUEST), OTHER_PEOPLE[4]])
    assert family > 100 * stranger


def test_name_score_is_name_scores_of_one_record_and_zero_without_names(default: Matcher) -> None:
    records = [SIGHTING, SIGHTING_LATIN, {"id": "nameless", "birth_date": "1990"}]
    assert [default.name_score("Mohammed Al-Hassan", r) for r in records] == default.name_scores(
        "Mohammed Al-Hassan", records
    )
    assert default.name_score("Mohammed", records[2]) == 0.0
    assert default.name_scores("  -- ", records) == [0.0, 0.0, 0.0]
    assert all(0.0 <= p <= 1.0 for p in default.name_scores("Mohammed Al-Hassan", records))


def test_name_weights_rank_like_name_scores_and_mark_missing_names(default: Matcher) -> None:
    records = [SIGHTING, SIGHTING_LATIN, {"id": "nameless", "birth_date": "1990"}, *names("محمود")]

    weights = default.name_weights("Mohammed Al-Hassan", records)
    scores = default.name_scores("Mohammed Al-Hassan", records)

    assert weights[2] == NO_NAME_EVIDENCE
    assert sorted(range(4), key=lambda i: weights[i]) == sorted(range(4), key=lambda i: scores[i])
    assert min(weights[0], weights[1]) > weights[3] + 5  # several bits between the person and a stranger


def test_fields_are_the_canonical_ones() -> None:
    assert {"given_name", "family_name", "full_name", "alternate_names"} <= set(FIELDS)


def test_a_threshold_keeps_the_likely_candidates_after_all_competed(default: Matcher) -> None:
    candidates = [SIGHTING, *OTHER_PEOPLE]
    everyone = default.score(REQUEST, candidates)
    likely = default.score(REQUEST, candidates, threshold=0.5)
    assert likely == [s for s in everyone if s.match_probability >= 0.5]
    assert [s.id for s in likely] == ["S1"]
