"""What the planned blind-index truncation hides, in numbers (the README's claims rest on these tests)."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from privacy import BlindIndexer, LocalKeyProvider
from rfl.crypto.planning import IndexPlanning, SocietyIndex
from rfl.records import indexing

PLANNING = IndexPlanning()


def planned_index() -> SocietyIndex:
    provider = LocalKeyProvider.in_memory(["IT"])
    bits = {name: PLANNING.bits(name) for name in IndexPlanning.index_names()}
    return SocietyIndex(BlindIndexer(provider, "IT"), provider.active_index_key_version("IT"), bits)


def terms(count: int) -> list[str]:
    """``count`` distinct name-like terms (what an index holds is one value per distinct term)."""
    return [f"name{n:07d}" for n in range(count)]


def terms_per_value(index: SocietyIndex, index_name: str, count: int) -> Counter[bytes]:
    """How many of ``count`` distinct terms share each value of one index."""
    return Counter(value.value for value in index.values(index_name, terms(count)))


def test_the_shipped_plan_is_what_the_readme_states() -> None:
    assert {name: PLANNING.bits(name) for name in IndexPlanning.index_names()} == {
        indexing.NAME_TOKEN: 13,  # 20,000 expected tokens in 8,192 values
        indexing.NAME_SKELETON: 10,  # 4,000 expected skeletons in 1,024 values
        indexing.MATCH_BLOCK: 18,  # 1,000,000 expected blocking keys in 262,144 values
    }


@pytest.mark.parametrize(
    ("index_name", "most_alone"),
    [(indexing.NAME_TOKEN, 0.10), (indexing.NAME_SKELETON, 0.03), (indexing.MATCH_BLOCK, 0.03)],
)
def test_at_the_planned_size_a_value_stands_for_two_terms_or_more(index_name: str, most_alone: float) -> None:
    """At the expected number of distinct terms, values hold at least two terms on average, and few
    terms are alone in their value (about e**-(terms per value), as for balls in bins)."""
    expected = PLANNING.expected_terms(index_name)
    shared = terms_per_value(planned_index(), index_name, expected)

    mean = expected / len(shared)
    alone = sum(1 for count in shared.values() if count == 1) / expected
    assert mean >= 2
    assert alone <= most_alone
    assert alone == pytest.approx(math.exp(-expected / 2 ** PLANNING.bits(index_name)), abs=0.01)


def test_at_small_sizes_almost_every_name_has_a_value_of_its_own() -> None:
    """A society with a hundred distinct name tokens: nearly every value pins one of them, so a database
    reader sees which records share a name and how often each occurs (only the name stays hidden)."""
    shared = terms_per_value(planned_index(), indexing.NAME_TOKEN, 100)

    assert len(shared) >= 97  # collisions among 100 terms in 8,192 values: about 0.6 expected


def test_a_shorter_value_is_the_prefix_of_a_longer_one() -> None:
    """Why the upgrade could shorten stored values without the index keys, and why truncation only
    merges terms: two records sharing a term share its value at every length."""
    provider = LocalKeyProvider.in_memory(["IT"])
    indexer = BlindIndexer(provider, "IT")
    long = SocietyIndex(indexer, 1, {indexing.NAME_TOKEN: 24}).values(indexing.NAME_TOKEN, ["rossi"])[0]
    short = SocietyIndex(indexer, 1, {indexing.NAME_TOKEN: 13}).values(indexing.NAME_TOKEN, ["rossi"])[0]

    assert short.value[:1] == long.value[:1]
    assert short.value[1] == long.value[1] & 0xF8
