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


# The index key is new in every run, so which terms share a value varies: each expectation below (of
# balls in bins) is checked within at least four standard deviations of that variation.
@pytest.mark.parametrize(
    ("index_name", "mean", "alone"),
    [
        (indexing.NAME_TOKEN, 2.67, 0.087),
        (indexing.NAME_SKELETON, 3.98, 0.020),
        (indexing.MATCH_BLOCK, 3.90, 0.022),
    ],
)
def test_at_the_planned_size_a_value_stands_for_two_terms_or_more(
    index_name: str, mean: float, alone: float
) -> None:
    """At the expected number of distinct terms, values hold at least two terms on average, and few
    terms are alone in their value (about e**-(terms per value)). The README quotes these numbers."""
    expected = PLANNING.expected_terms(index_name)
    shared = terms_per_value(planned_index(), index_name, expected)

    alone_share = sum(1 for count in shared.values() if count == 1) / expected
    assert expected / len(shared) >= 2
    assert expected / len(shared) == pytest.approx(mean, abs=0.08)
    assert alone_share == pytest.approx(alone, abs=0.012)
    assert alone_share == pytest.approx(math.exp(-expected / 2 ** PLANNING.bits(index_name)), abs=0.012)


@pytest.mark.parametrize(
    ("terms", "values", "alone", "alone_within"),
    [(100, 99, 0.99, 0.09), (1_000, 941, 0.885, 0.05), (5_000, 3_743, 0.543, 0.035)],
)
def test_at_small_sizes_a_value_still_pins_a_name(
    terms: int, values: int, alone: float, alone_within: float
) -> None:
    """Below the planned size values merge few names: a database reader of a small society's index
    sees which records share a name and how often each occurs (only the name stays hidden). The README
    quotes these numbers."""
    shared = terms_per_value(planned_index(), indexing.NAME_TOKEN, terms)

    assert len(shared) == pytest.approx(values, rel=0.05)
    assert sum(1 for count in shared.values() if count == 1) / terms == pytest.approx(alone, abs=alone_within)


def test_a_shorter_value_is_the_prefix_of_a_longer_one() -> None:
    """Why the upgrade could shorten stored values without the index keys, and why truncation only
    merges terms: two records sharing a term share its value at every length."""
    provider = LocalKeyProvider.in_memory(["IT"])
    indexer = BlindIndexer(provider, "IT")
    long = SocietyIndex(indexer, 1, {indexing.NAME_TOKEN: 24}).values(indexing.NAME_TOKEN, ["rossi"])[0]
    short = SocietyIndex(indexer, 1, {indexing.NAME_TOKEN: 13}).values(indexing.NAME_TOKEN, ["rossi"])[0]

    assert short.value[:1] == long.value[:1]
    assert short.value[1] == long.value[1] & 0xF8
