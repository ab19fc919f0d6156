"""What the shipped blind-index truncation hides, in numbers (the README's claim rests on this test)."""

from __future__ import annotations

from privacy import BlindIndexer, LocalKeyProvider
from rfl.records import indexing


def test_at_the_shipped_truncation_almost_every_name_term_has_a_value_of_its_own() -> None:
    """Planned for a million index rows, the truncation keeps 18 bits: 262,144 values. The demo's 103
    name terms then get (almost) 103 values, so each value points at one name and a database reader can
    count how often each name occurs; only the name itself stays hidden without the index key."""
    provider = LocalKeyProvider.in_memory(["IT"])
    indexer = BlindIndexer(provider, "IT")
    spec = indexing.spec(indexing.NAME_TOKEN, provider.active_index_key_version("IT"))
    terms = [f"name{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(103)]

    values = {indexer.value(spec, term).value for term in terms}

    assert indexing.INDEX_BITS == 18
    assert len(values) >= 100  # a collision among 103 terms in 2**18 values has odds of about 2%
