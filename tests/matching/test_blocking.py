"""Blocking: shared keys make candidates; common keys are dropped; combinations keep true pairs."""

from matching.blocking import candidate_pairs, record_keys
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
