"""Blind-index terms of a person's names, so the database can find candidates without plaintext.

Terms come from the matching library's normalisation (transliteration, particles, case folding) so that
Mohammed, Muhammad and محمد meet: a Latin token and its consonant skeleton per name token, and the
matcher's blocking keys (each holding a name, never a date or a number alone) for proposals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from matching import blocking_keys, name_tokens
from privacy import BlindIndexValue
from rfl.crypto.planning import INDEX_VERSION, MATCH_BLOCK, NAME_SKELETON, NAME_TOKEN, SocietyIndex

__all__ = ["INDEX_VERSION", "MATCH_BLOCK", "NAME_SKELETON", "NAME_TOKEN"]

SEARCH_INDEXES = (NAME_TOKEN, NAME_SKELETON)


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


def person_index_values(index: SocietyIndex, canonical: Mapping[str, Any]) -> list[BlindIndexValue]:
    """Every blind-index value of a person (``canonical``: the person as the matcher reads it)."""
    values: list[BlindIndexValue] = []
    for index_name, index_terms in name_terms(person_names(canonical)).items():
        values.extend(index.values(index_name, index_terms))
    values.extend(block_key_values(index, blocking_keys(canonical)))
    return values


def block_key_values(index: SocietyIndex, keys: Iterable[str]) -> list[BlindIndexValue]:
    """The values of the matcher's blocking keys: another record sharing one is a candidate. Every key
    holds a name, so no value stands for a date or a number alone."""
    return index.values(MATCH_BLOCK, keys)


def query_index_values(index: SocietyIndex, query: str) -> list[BlindIndexValue]:
    values: list[BlindIndexValue] = []
    for index_name, index_terms in name_terms([query]).items():
        values.extend(index.values(index_name, index_terms))
    return values
