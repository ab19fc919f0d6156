"""Blind-index terms of a person's names, so the database can find candidates without plaintext.

Terms come from the matching library's normalisation (transliteration, particles, case folding) so that
Mohammed, Muhammad and محمد meet: a Latin token and its consonant skeleton per name token, and the
matcher's blocking keys (each holding a name, never a date or a number alone) for proposals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from matching import blocking_keys, name_tokens
from privacy import BlindIndexer, BlindIndexError, BlindIndexSpec, BlindIndexValue, plan_index_bits

# Sized for a million index rows: each truncated value stands for several terms (CipherSweet rule).
EXPECTED_INDEX_ROWS = 1_000_000
INDEX_BITS = plan_index_bits(EXPECTED_INDEX_ROWS).bits
INDEX_VERSION = 1
NAME_TOKEN = "name_token"  # noqa: S105 (an index name, not a secret)  # nosec B105
NAME_SKELETON = "name_skeleton"
# The matcher's blocking keys (a name, or a name with a birth-year band, sex, nationality, a parent).
MATCH_BLOCK = "match_block"
SEARCH_INDEXES = (NAME_TOKEN, NAME_SKELETON)


def spec(name: str, key_version: int) -> BlindIndexSpec:
    return BlindIndexSpec(name=name, version=INDEX_VERSION, bits=INDEX_BITS, key_version=key_version)


def name_variants(name: str) -> list[str]:
    """The name and each of its words: the matcher joins some compounds (Kidane Tekle, Abd al-Rahman)
    into one token, and the same person may be written with the parts apart."""
    words = name.split()
    return [name, *words] if len(words) > 1 else [name]


def name_terms(names: Iterable[str]) -> dict[str, set[str]]:
    """Search terms of some names: Latin tokens and consonant skeletons of two letters or more."""
    terms: dict[str, set[str]] = {NAME_TOKEN: set(), NAME_SKELETON: set()}
    for name in names:
        for token in (token for variant in name_variants(name) for token in name_tokens(variant)):
            if len(token.latin) >= 2:
                terms[NAME_TOKEN].add(token.latin)
            if len(token.skeleton) >= 2:
                terms[NAME_SKELETON].add(token.skeleton)
    return terms


def person_names(person: Mapping[str, Any]) -> list[str]:
    names = [person.get(field) for field in ("given_name", "family_name", "full_name")]
    return [name for name in [*names, *(person.get("alternate_names") or [])] if name]


def person_index_values(
    indexer: BlindIndexer, key_version: int, canonical: Mapping[str, Any]
) -> list[BlindIndexValue]:
    """Every blind-index value of a person (``canonical``: the person as the matcher reads it)."""
    terms = name_terms(person_names(canonical))
    values: list[BlindIndexValue] = []
    for index_name, index_terms in terms.items():
        values.extend(_values(indexer, spec(index_name, key_version), index_terms))
    values.extend(match_block_values(indexer, key_version, canonical))
    return values


def match_block_values(
    indexer: BlindIndexer, key_version: int, canonical: Mapping[str, Any]
) -> list[BlindIndexValue]:
    """The matcher's blocking keys of a person under one society's index key: another record sharing
    one is a candidate. Every key holds a name, so no value stands for a date or a number alone."""
    return block_key_values(indexer, key_version, blocking_keys(canonical))


def block_key_values(indexer: BlindIndexer, key_version: int, keys: Iterable[str]) -> list[BlindIndexValue]:
    """The index values of blocking keys already computed (one record probed under several societies'
    keys computes its keys once)."""
    return _values(indexer, spec(MATCH_BLOCK, key_version), keys)


def query_index_values(indexer: BlindIndexer, key_version: int, query: str) -> list[BlindIndexValue]:
    values: list[BlindIndexValue] = []
    for index_name, index_terms in name_terms([query]).items():
        values.extend(_values(indexer, spec(index_name, key_version), index_terms))
    return values


def _values(indexer: BlindIndexer, index: BlindIndexSpec, terms: Iterable[str]) -> list[BlindIndexValue]:
    values = []
    for term in terms:
        try:
            values.append(indexer.value(index, term))
        except BlindIndexError:  # a term too weak to index on its own is left out, never stored
            continue
    return values
