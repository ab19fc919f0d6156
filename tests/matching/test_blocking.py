"""Blocking: shared keys make candidates; common keys are dropped; combinations keep true pairs."""

import numpy as np

from matching.blocking import CROWD_WINDOW, candidate_pairs, crowd_neighbours, record_keys
from matching.records import Vocabulary, prepare


def prepared(vocab: Vocabulary, rows: list[dict[str, str]]) -> list:  # type: ignore[type-arg]
    return [prepare(r, vocab) for r in rows]


def test_spellings_across_scripts_share_a_name_key() -> None:
    vocab = Vocabulary()
    a, b = prepared(vocab, [{"id": "a", "given_name": "محمد"}, {"id": "b", "given_name": "Muhammad"}])
    assert set(record_keys(a, vocab)) & set(record_keys(b, vocab))


def test_candidates_are_pairs_sharing_a_key(left: list[dict[str, str]], right: list[dict[str, str]]) -> None:
    vocab = Vocabulary()
    la, rb = prepared(vocab, left), prepared(vocab, right)
    li, ri, stats = candidate_pairs(la, rb, vocab)
    pairs = {(la[i].id, rb[j].id) for i, j in zip(li, ri, strict=True)}
    assert {("L1", "R1"), ("L2", "R2"), ("L3", "R3"), ("L4", "R4"), ("L5", "R5")} <= pairs
    assert ("L4", "R8") not in pairs  # nothing in common
    assert stats.candidate_pairs == len(pairs)


def test_oversized_blocks_are_dropped_but_combined_keys_keep_the_pair() -> None:
    vocab = Vocabulary()
    # 30 x 30 Mohammeds: the bare name block (900 pairs) is over the bound
    lefts = [{"id": f"l{i}", "given_name": "Mohammed", "birth_date": str(1950 + i)} for i in range(30)]
    rights = [{"id": f"r{i}", "given_name": "Muhammad", "birth_date": str(1950 + i)} for i in range(30)]
    la, rb = prepared(vocab, lefts), prepared(vocab, rights)
    li, ri, stats = candidate_pairs(la, rb, vocab, max_block=100)
    assert stats.blocks_dropped > 0
    pairs = set(zip(li.tolist(), ri.tolist(), strict=True))
    assert all((i, i) in pairs for i in range(30))  # name + birth-year window keeps each true pair
    assert len(pairs) < 30 * 30 / 2


def test_dedupe_pairs_are_unique_and_never_self() -> None:
    vocab = Vocabulary()
    recs = prepared(vocab, [{"id": str(i), "given_name": "Rawan", "family_name": "Haddad"} for i in range(4)])
    li, ri, _ = candidate_pairs(recs, None, vocab)
    assert sorted(zip(li.tolist(), ri.tolist(), strict=True)) == [
        (0, 1),
        (0, 2),
        (0, 3),
        (1, 2),
        (1, 3),
        (2, 3),
    ]


def test_birth_month_keeps_a_common_name_pair_in_one_block() -> None:
    vocab = Vocabulary()
    # many Mohameds born in 1991: only the month tells the pair apart from the crowd
    lefts = [
        {"id": f"l{i}", "given_name": "Mohamed", "birth_date": f"1991-{1 + i % 12:02d}"} for i in range(40)
    ]
    rights = [
        {"id": f"r{i}", "given_name": "محمد", "birth_date": f"1991-{1 + i % 12:02d}-15"} for i in range(40)
    ]
    la, rb = prepared(vocab, lefts), prepared(vocab, rights)
    li, ri, _ = candidate_pairs(la, rb, vocab, max_block=200)
    pairs = set(zip(li.tolist(), ri.tolist(), strict=True))
    assert (0, 0) in pairs
    assert (0, 1) not in pairs  # different month


def test_two_names_and_a_year_band_split_a_crowd_of_namesakes_under_a_tight_bound() -> None:
    vocab = Vocabulary()

    def crowd(side: str, given: str, family: str) -> list[dict[str, str]]:
        # Ahmads born about 1990, Tesfayes born about 1990, Ahmad Tesfayes born long before: every
        # key of one name with a year, and of the two names without one, is a block over the bound
        rows = [
            {"given_name": given, "family_name": f"Q{i}", "birth_date": str(1990 + i % 2)} for i in range(12)
        ]
        rows += [
            {"given_name": f"Z{i}", "family_name": family, "birth_date": str(1990 + i % 2)} for i in range(12)
        ]
        rows += [{"given_name": given, "family_name": family, "birth_date": str(1960 + i)} for i in range(12)]
        return [dict(r, id=f"{side}{n}") for n, r in enumerate(rows)]

    lefts = [{"id": "target", "given_name": "Ahmad", "family_name": "Tesfaye", "birth_date": "1991"}]
    rights = [{"id": "target", "given_name": "Ahmed", "family_name": "Tesfaey", "birth_date": "1990"}]
    la = prepared(vocab, lefts + crowd("l", "Ahmad", "Tesfaye"))
    rb = prepared(vocab, rights + crowd("r", "Ahmed", "Tesfaey"))
    assert not any(k.startswith("ny|") for k in record_keys(la[0], vocab))  # only when asked for
    li, ri, _ = candidate_pairs(la, rb, vocab, max_block=100)  # a tight bound: crowds are split
    pairs = set(zip(li.tolist(), ri.tolist(), strict=True))
    assert (0, 0) in pairs
    assert len(pairs) < len(la) * len(rb) / 4


def test_year_bands_pair_years_one_apart_and_not_three_apart() -> None:
    vocab = Vocabulary()
    for y1, y2, shared in ((1990, 1991, True), (1991, 1992, True), (1990, 1990, True), (1990, 1993, False)):
        a, b = prepared(
            vocab,
            [
                {"id": "a", "given_name": "Ahmad", "family_name": "Tesfaye", "birth_date": str(y1)},
                {"id": "b", "given_name": "Ahmad", "family_name": "Tesfaye", "birth_date": str(y2)},
            ],
        )
        ka = {k for k in record_keys(a, vocab, split_crowds=True) if k.startswith("ny|")}
        kb = {k for k in record_keys(b, vocab, split_crowds=True) if k.startswith("ny|")}
        assert bool(ka & kb) == shared, (y1, y2)


def test_stats_say_which_pairs_a_key_of_names_alone_made() -> None:
    vocab = Vocabulary()
    lefts = [
        {"id": f"l{i}", "given_name": "Mohamed", "birth_date": f"1991-{1 + i % 12:02d}"} for i in range(40)
    ]
    rights = [
        {"id": f"r{i}", "given_name": "محمد", "birth_date": f"1991-{1 + i % 12:02d}-15"} for i in range(40)
    ]
    lefts.append({"id": "rare", "given_name": "Tesfamariam", "birth_date": "1950"})
    rights.append({"id": "rare", "given_name": "Tesfamariam", "birth_date": "2001"})
    la, rb = prepared(vocab, lefts), prepared(vocab, rights)
    li, ri, stats = candidate_pairs(la, rb, vocab, max_block=200)
    assert stats.max_block == 200
    made = dict(zip(zip(li.tolist(), ri.tolist(), strict=True), stats.by_name.tolist(), strict=True))
    assert made[(0, 0)] is False  # the Mohameds meet only through name + birth month
    assert made[(40, 40)] is True  # a rare name alone, whatever the dates


def test_a_crowd_too_big_for_its_block_meets_its_nearest_neighbours() -> None:
    # one crowded key: left records 0-3, right records 0-3, sorted by signature rank
    keys = np.zeros(8, dtype=np.int64)
    side = np.asarray([False] * 4 + [True] * 4)
    rank = np.asarray([0, 2, 4, 6, 1, 3, 5, 7])  # left i sorts next to right i
    record = np.asarray([0, 1, 2, 3, 0, 1, 2, 3])
    left, right = crowd_neighbours(keys, side, rank, record, window=1)
    assert set(zip(left.tolist(), right.tolist(), strict=True)) == {
        (0, 0),
        (1, 0),
        (1, 1),
        (2, 1),
        (2, 2),
        (3, 2),
        (3, 3),
    }
    # deduplicating: any two members pair, each pair once
    left, right = crowd_neighbours(keys[:4], None, rank[:4], record[:4], window=1)
    assert set(zip(left.tolist(), right.tolist(), strict=True)) == {(0, 1), (1, 2), (2, 3)}


def test_crowds_of_namesakes_are_kept_under_a_tight_bound() -> None:
    # 40 x 40 men called Mohammed Ahmed born in 1990, Sudanese: every key of theirs makes a block far
    # above the bound, which alone would leave them no candidate at all; sorted neighbours meet
    man = {
        "given_name": "Mohammed",
        "family_name": "Ahmed",
        "birth_date": "1990",
        "sex": "M",
        "nationality": "SD",
    }
    vocab = Vocabulary()
    left = [prepare({"id": f"L{i}", **man}, vocab) for i in range(40)]
    right = [prepare({"id": f"R{i}", **man}, vocab) for i in range(40)]
    li, ri, _ = candidate_pairs(left, right, vocab, max_block=500)
    assert set(li.tolist()) == set(range(40))
    assert set(ri.tolist()) == set(range(40))
    assert len(li) <= 80 * CROWD_WINDOW
    assert len(candidate_pairs(left, right, vocab, max_block=5000)[0]) == 40 * 40  # a loose bound keeps all
