"""How long each blind index's values are: planned from the distinct terms a society's index will hold.

Names repeat, so the number of index rows says little about what a value hides: a million rows may hold
only a few thousand distinct name tokens. The truncation is therefore planned from the expected number
of distinct terms per index (``plan_index_bits`` with terms in place of rows): at the planned size each
value stands for at least two terms on average, so a value never pins one name and frequency analysis
meets merged counts. Smaller indexes merge fewer terms (the README states the numbers).

A plan is fixed for one society's index-key version: every value under that version has the same length
(a search computes its values with the version's plan), and a new plan comes with a new index-key
version (the whole index rebuilt beside the old one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import ClassVar

from privacy import BlindIndexer, BlindIndexError, BlindIndexSpec, BlindIndexValue, plan_index_bits

# The version of the index layout (which terms, how normalised): a new one is built beside the old.
INDEX_VERSION = 1
# Index names (what each index holds): Latin name tokens, their consonant skeletons, and the matcher's
# blocking keys (a name, or a name with a birth-year band, sex, nationality or a parent).
NAME_TOKEN = "name_token"  # noqa: S105 (an index name, not a secret)  # nosec B105
NAME_SKELETON = "name_skeleton"
MATCH_BLOCK = "match_block"


@dataclass(frozen=True)
class IndexPlanning:
    """Distinct terms expected in one society's indexes over its records' lifetime.

    The defaults are sized for a large society (about 100,000 records), from the development
    benchmark's mixed Arabic, Tigrinya, Latin and Cyrillic names (11,000 records: 3,460 distinct name
    tokens, 707 skeletons, about 13 mostly distinct blocking keys per record), grown for ten times the
    records: tokens and skeletons grow slower than records (names repeat), blocking keys nearly as fast.
    Overestimating keeps values longer (fewer terms behind each); underestimating only adds false
    positives, which are dropped after decryption.
    """

    MIN_TERMS: ClassVar[int] = 4
    # Environment variable of each field.
    VARIABLES: ClassVar[dict[str, str]] = {
        "RFL_INDEX_EXPECTED_NAME_TOKENS": NAME_TOKEN,
        "RFL_INDEX_EXPECTED_NAME_SKELETONS": NAME_SKELETON,
        "RFL_INDEX_EXPECTED_MATCH_BLOCKS": MATCH_BLOCK,
    }

    name_token: int = 20_000
    name_skeleton: int = 4_000
    match_block: int = 1_000_000

    def expected_terms(self, index_name: str) -> int:
        if index_name not in self.index_names():
            raise KeyError(index_name)
        expected: int = getattr(self, index_name)
        return expected

    def bits(self, index_name: str) -> int:
        """The truncation of ``index_name``: the most bits that leave two expected terms per value."""
        return plan_index_bits(self.expected_terms(index_name)).bits

    @classmethod
    def index_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class SocietyIndex:
    """One society's blind indexes under one index-key version, truncated as that version's plan says
    (``bits``: index name to bits)."""

    indexer: BlindIndexer
    key_version: int
    bits: Mapping[str, int]

    def spec(self, index_name: str) -> BlindIndexSpec:
        return BlindIndexSpec(
            name=index_name, version=INDEX_VERSION, bits=self.bits[index_name], key_version=self.key_version
        )

    def values(self, index_name: str, terms: Iterable[str]) -> list[BlindIndexValue]:
        """The values of ``terms`` in one index; a term too weak to index on its own is left out."""
        index = self.spec(index_name)
        values = []
        for term in terms:
            try:
                values.append(self.indexer.value(index, term))
            except BlindIndexError:
                continue
        return values
