"""Batch linkage end to end on hand-made records, and the explanation an officer reads."""

import pytest

from matching import InputError, Linker, MatchingError, dedupe, link

from .conftest import TRUTH


def test_link_ranks_the_true_sighting_first(left: list[dict[str, str]], right: list[dict[str, str]]) -> None:
    links = link(left, right)
    best: dict[str, str] = {}
    for lid, rid, _p, _w in links.rows(threshold=0.0, top_k=1):
        best[lid] = rid
    for lid, rid in TRUTH:
        assert best[lid] == rid


def test_top_k_and_threshold(left: list[dict[str, str]], right: list[dict[str, str]]) -> None:
    links = link(left, right)
    rows = list(links.rows(threshold=0.0, top_k=1))
    assert len({r[0] for r in rows}) == len(rows)
    assert all(p >= 0.9 for _l, _r, p, _w in links.rows(threshold=0.9))


def test_probabilities_and_weights_agree_in_order(
    left: list[dict[str, str]], right: list[dict[str, str]]
) -> None:
    links = link(left, right)
    order_w = sorted(range(len(links)), key=lambda i: links.match_weight[i])
    probs = [links.match_probability[i] for i in order_w]
    assert probs == sorted(probs)


def test_explanation_lists_every_field_with_level_and_weight(
    left: list[dict[str, str]], right: list[dict[str, str]]
) -> None:
    links = link(left, right)
    i = next(
        i
        for i in range(len(links))
        if (links.left_ids[links.left_pos[i]], links.right_ids[links.right_pos[i]]) == ("L1", "R1")
    )
    exp = links.explain(i)
    fields = {f.field: f for f in exp.fields}
    assert fields["birth_date"].level == "day and month swapped or one typo"
    assert fields["birth_date"].left == "1990-05-04"
    assert fields["sex"].weight > 0
    given = fields["given_name"]
    assert given.alignment[0].left == "mohammed"
    assert given.alignment[0].right == "محمد"
    names = fields["other_names"].alignment
    assert ("khatib", "خطيب") in {(t.left, t.right) for t in names}
    assert exp.match_weight == pytest.approx(sum(f.weight for f in exp.fields), abs=0.05)
    # the explanation weighs the pair on its own; the links also let competing candidates share
    assert exp.match_probability >= links.match_probability[i] - 1e-9
    assert "given_name" in exp.as_text()


def test_sibling_scores_below_the_person(left: list[dict[str, str]], right: list[dict[str, str]]) -> None:
    # L6 Rawan Haddad's brother R6 Sami shares family name and both parents
    links = link(left, right)
    scores = {
        (links.left_ids[a], links.right_ids[b]): w
        for a, b, w in zip(links.left_pos, links.right_pos, links.match_weight, strict=True)
    }
    assert scores[("L6", "R6")] < min(scores[t] for t in TRUTH)


def test_dedupe_finds_the_duplicate(left: list[dict[str, str]]) -> None:
    dup = dict(left[0], id="L1-again", given_name="Muhammad")
    links = dedupe([*left, dup])
    top = max(range(len(links)), key=lambda i: links.match_weight[i])
    assert {links.left_ids[links.left_pos[top]], links.right_ids[links.right_pos[top]]} == {"L1", "L1-again"}


def test_bad_records_raise_input_error_with_row_and_column(left: list[dict[str, str]]) -> None:
    left[2]["birth_date"] = "1990-02-30"
    with pytest.raises(InputError) as err:
        Linker().link(left, [])
    assert (err.value.row, err.value.column) == (3, "birth_date")
    assert isinstance(err.value, MatchingError)


def test_duplicate_ids_raise(left: list[dict[str, str]]) -> None:
    with pytest.raises(InputError, match="duplicate id"):
        link(left, [left[0], left[0]])


def test_records_without_candidates_link_to_nothing() -> None:
    links = link([{"id": "a", "given_name": "Rawan"}], [{"id": "b", "given_name": "Olga"}])
    assert list(links.rows(threshold=0.0)) == []


def test_candidates_of_one_record_compete() -> None:
    import numpy as np

    from matching.linker import compete

    left = np.array([0, 0, 1])
    right = np.array([0, 1, 2])
    prob = np.array([0.9, 0.8, 0.9])
    _w, alone = compete(left, right, prob, 1e-4, 0.0)
    assert np.allclose(alone, prob)  # no competition: unchanged
    w, shared = compete(left, right, prob, 1e-4, 1.0)
    assert shared[0] < 0.9
    assert shared[1] < 0.8
    assert shared[0] > shared[1]
    assert w[0] > w[1]
    assert shared[2] == pytest.approx(0.9)  # a lone candidate keeps its probability
    assert shared[0] + shared[1] <= 1.0


def test_two_overwhelming_candidates_do_not_sink_each_other() -> None:
    import numpy as np

    from matching.linker import compete

    prob = np.array([1 - 1e-9, 1 - 1e-8, 0.7])
    _w, shared = compete(np.array([0, 0, 0]), np.array([0, 1, 2]), prob, 1e-4, 0.5)
    assert shared[0] > 0.99
    assert shared[1] > 0.99  # two sightings of one person
    assert shared[2] < 0.25  # a weaker third beside them (0.7 alone)


def test_prior_is_bounded_by_the_smaller_side(
    left: list[dict[str, str]], right: list[dict[str, str]]
) -> None:
    links = link(left, right)
    assert 0 < links.model.prior <= len(left) / (len(left) * len(right))
    expected = float(links.match_probability.sum())
    assert links.model.prior * len(left) * len(right) == pytest.approx(expected, rel=0.5)


def test_namesake_u_comes_from_pairs_a_name_key_made_when_asked(
    left: list[dict[str, str]], right: list[dict[str, str]]
) -> None:
    import numpy as np

    from matching.compare import COMPARISON_NAMES, COMPARISONS
    from matching.records import RecordTable

    linker = Linker()
    a = linker._prepared(left, "left")
    b = linker._prepared(right, "right")
    ca, cb = RecordTable(linker.vocab, a).columns(), RecordTable(linker.vocab, b).columns()
    born = COMPARISON_NAMES.index("birth_date")
    same_year = COMPARISONS[born].levels.index("same year")
    # 4,000 namesakes (names agree, nothing else known): half met through a name with a birth year
    # and agree on the year, half met through their names alone and were born far apart
    levels = np.full((4000, len(COMPARISONS)), -1, dtype=np.int8)
    levels[:, COMPARISON_NAMES.index("given_name")] = 3
    levels[:, COMPARISON_NAMES.index("other_names")] = 3
    levels[:2000, born] = same_year
    levels[2000:, born] = 0
    by_name = np.arange(4000) >= 2000
    linker._fit(ca, cb, len(a), len(b), levels, by_name=None, dedupe=False)
    biased = linker.model.u[born][same_year]
    linker.model = type(linker.model)()
    linker._fit(ca, cb, len(a), len(b), levels, by_name=by_name, dedupe=False)
    assert linker.model.u[born][same_year] < biased / 10


def test_each_source_judges_its_own_placeholder_dates() -> None:
    from datetime import date, timedelta

    from matching.linker import prepare_all
    from matching.records import Vocabulary

    # requests with real birthdays; sightings that write an estimated year as 1 January
    real = [(date(1960 + k % 40, 1, 1) + timedelta(days=k * 7 % 365)).isoformat() for k in range(400)]
    estimated = [f"{1960 + k % 40}-01-01" for k in range(100)] + real[:300]
    vocab = Vocabulary()
    requests = prepare_all([{"id": f"r{k}", "birth_date": d} for k, d in enumerate(real)], vocab)
    sightings = prepare_all([{"id": f"s{k}", "birth_date": d} for k, d in enumerate(estimated)], vocab)
    assert real[0] == "1960-01-01"
    assert requests[0].born is not None
    assert requests[0].born.full
    assert sightings[0].born is not None
    assert not sightings[0].born.full
