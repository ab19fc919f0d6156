"""Incremental index: add records one by one, ask for candidates of a new one."""

import pytest

from matching import IncrementalIndex, InputError, link

from .conftest import TRUTH


@pytest.fixture
def index(left: list[dict[str, str]], right: list[dict[str, str]]) -> IncrementalIndex:
    idx = IncrementalIndex(link(left, right).model)
    for r in right:
        idx.add(r)
    return idx


def test_candidates_rank_the_true_record_first(index: IncrementalIndex, left: list[dict[str, str]]) -> None:
    by_id = {r["id"]: r for r in left}
    for lid, rid in TRUTH:
        got = index.candidates(by_id[lid], k=3)
        assert got[0].id == rid
        assert got == sorted(got, key=lambda c: -c.match_weight)


def test_k_and_threshold(index: IncrementalIndex, left: list[dict[str, str]]) -> None:
    assert len(index.candidates(left[0], k=1)) == 1
    assert all(c.match_probability >= 0.99 for c in index.candidates(left[0], k=10, threshold=0.99))


def test_adding_makes_a_record_findable(index: IncrementalIndex) -> None:
    new = {"id": "N1", "given_name": "Zainab", "family_name": "Mansour", "birth_date": "2000-01-02"}
    assert index.candidates(dict(new, id="Q"), k=5) == []
    index.add(new)
    assert [c.id for c in index.candidates(dict(new, id="Q"), k=5)] == ["N1"]
    assert len(index) == 9


def test_a_record_is_not_its_own_candidate(index: IncrementalIndex, right: list[dict[str, str]]) -> None:
    assert "R4" not in [c.id for c in index.candidates(right[3])]


def test_duplicate_id_is_refused(index: IncrementalIndex, right: list[dict[str, str]]) -> None:
    with pytest.raises(InputError):
        index.add(right[0])


def test_explain_a_candidate(index: IncrementalIndex, left: list[dict[str, str]]) -> None:
    exp = index.explain(left[3], "R4")
    assert {f.field for f in exp.fields} >= {"given_name", "birth_date"}
    assert next(f for f in exp.fields if f.field == "birth_date").level == "exact"
    with pytest.raises(InputError):
        index.explain(left[3], "nobody")


def test_officers_labels_refine_the_model(index: IncrementalIndex, left: list[dict[str, str]]) -> None:
    # Given officers who confirm L4 = R4 and reject L6 = R6 (a sibling) many times over
    by_id = {r["id"]: r for r in left}
    before = index.candidates(by_id["L6"], k=10)
    sibling_before = next(c.match_weight for c in before if c.id == "R6")
    labels = [(by_id["L4"], "R4", True), (by_id["L6"], "R6", False)] * 100
    # When the model is refined from them
    assert index.refine(labels) == 200
    # Then the sibling's evidence weighs less than before
    after = index.candidates(by_id["L6"], k=10)
    assert next(c.match_weight for c in after if c.id == "R6") < sibling_before
    with pytest.raises(InputError):
        index.refine([(by_id["L4"], "nobody", True)])
