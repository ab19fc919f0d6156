"""Blind indexes: keyed, truncated, named and versioned, multi-valued, compound, planned."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy import (
    BlindIndexer,
    BlindIndexError,
    BlindIndexSpec,
    FieldVault,
    IndexPlanningError,
    LocalKeyProvider,
    Subject,
    plan_index_bits,
    year_band,
)
from privacy.testing import InMemoryKeyStore

NAMES = BlindIndexSpec("name_token", version=1, bits=16)
NAME_BAND = BlindIndexSpec("name_token_birth_band", version=1, bits=20)


def test_values_are_deterministic_per_ring_and_differ_across_rings(provider: LocalKeyProvider) -> None:
    it = BlindIndexer(provider, "IT")
    assert it.value(NAMES, "tesfay") == BlindIndexer(provider, "IT").value(NAMES, "tesfay")
    assert it.value(NAMES, "tesfay") != BlindIndexer(provider, "GR").value(NAMES, "tesfay")
    assert it.value(NAMES, "tesfay") != it.value(NAMES, "tesfaye")


def test_index_name_version_and_key_version_separate_values(provider: LocalKeyProvider) -> None:
    it = BlindIndexer(provider, "IT")
    wide = BlindIndexSpec("name_token", 1, 256)
    base = it.value(wide, "tesfay").value
    assert it.value(BlindIndexSpec("given_name", 1, 256), "tesfay").value != base
    assert it.value(BlindIndexSpec("name_token", 2, 256), "tesfay").value != base
    provider.rotate_index_key("IT")
    assert it.value(BlindIndexSpec("name_token", 1, 256, key_version=2), "tesfay").value != base
    assert it.value(wide, "tesfay").value == base  # the old version still computes: build the new beside it


@pytest.mark.parametrize("bits", [1, 7, 8, 13, 16, 32, 255, 256])
def test_truncation_keeps_exactly_the_requested_bits(provider: LocalKeyProvider, bits: int) -> None:
    it = BlindIndexer(provider, "IT")
    spec = BlindIndexSpec("name_token", 1, bits)
    full = it.value(BlindIndexSpec("name_token", 1, 256), "tesfay").value
    values = [it.value(spec, f"name{i}").value for i in range(64)]
    assert all(len(v) == math.ceil(bits / 8) for v in values)
    spare = 8 * math.ceil(bits / 8) - bits
    assert all(v[-1] & ((1 << spare) - 1) == 0 for v in values)  # unused low bits are zero
    assert int.from_bytes(it.value(spec, "tesfay").value, "big") >> spare == int.from_bytes(full, "big") >> (
        256 - bits
    )


def test_one_record_yields_several_distinct_values(provider: LocalKeyProvider) -> None:
    it = BlindIndexer(provider, "IT")
    spec = BlindIndexSpec("name_token", 1, 64)
    values = it.values(spec, ["abdul", "rahman", "yusuf", "rahman", "YSF"])
    assert len(values) == 4
    assert values == tuple(sorted(values))
    assert all(v.index == "name_token" and v.version == 1 for v in values)


def test_compound_values(provider: LocalKeyProvider) -> None:
    it = BlindIndexer(provider, "IT")
    a = it.value(NAME_BAND, ("tesfay", year_band(1994)))
    assert a == it.value(NAME_BAND, ["tesfay", "1990-1994"])
    assert a != it.value(NAME_BAND, ("tesfay", year_band(1995)))
    # parts are length-prefixed: moving the boundary changes the value
    wide = BlindIndexSpec("compound", 1, 256)
    assert it.value(wide, ("ab", "cd")) != it.value(wide, ("abc", "d"))


def test_normalisation_is_nfc_and_trimmed(provider: LocalKeyProvider) -> None:
    it = BlindIndexer(provider, "IT")
    assert it.value(NAMES, "Jos\u00e9") == it.value(NAMES, " Jose\u0301 ")


@pytest.mark.parametrize(
    "term",
    [
        "1994",
        "1990-1994",
        "1994-03-01",
        "+39 333 1234567",
        "m",
        "Female",
        "x",
        "",
        "  ",
        (),
        ("1994", "m"),
        ("tesfay", ""),
    ],
)
def test_low_entropy_or_empty_terms_are_refused(provider: LocalKeyProvider, term: object) -> None:
    with pytest.raises(BlindIndexError):
        BlindIndexer(provider, "IT").value(NAMES, term)  # type: ignore[arg-type]


def test_year_band() -> None:
    assert year_band(1994) == "1990-1994"
    assert year_band(1995) == "1995-1999"
    assert year_band(1994, width=10) == "1990-1999"
    with pytest.raises(ValueError, match="positive"):
        year_band(1994, width=0)


def test_index_keys_do_not_depend_on_data_keys(provider: LocalKeyProvider, store: InMemoryKeyStore) -> None:
    # Given an index value computed before any data key exists
    it = BlindIndexer(provider, "IT")
    before = it.value(NAMES, "tesfay")
    # When subjects get DEKs, rotate them, are shredded, and the KEK rotates
    vault = FieldVault(provider, store)
    subject = Subject("IT", "s")
    vault.encrypt(subject, "t", "c", "r", "tesfay")
    vault.rotate_subject_key(subject)
    vault.shred(subject)
    provider.rotate_kek("IT")
    # Then the index value is unchanged: it hangs on the separate index key only
    assert BlindIndexer(provider, "IT").value(NAMES, "tesfay") == before


@pytest.mark.parametrize(
    "spec", [("", 1, 8, 1), ("n", 0, 8, 1), ("n", 1, 0, 1), ("n", 1, 257, 1), ("n", 1, 8, 0)]
)
def test_bad_specs_are_refused(spec: tuple[str, int, int, int]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - several messages
        BlindIndexSpec(*spec)


# -- planner ---------------------------------------------------------------------------------------------


def test_planner_examples() -> None:
    plan = plan_index_bits(1_000_000)
    assert (plan.min_bits, plan.max_bits, plan.bits) == (10, 18, 18)
    assert 2 <= plan.expected_coincidences <= 1000
    assert plan_index_bits(4).bits == 1
    assert plan_index_bits(1_000_000, other_index_bits=8).bits == 10


@settings(deadline=None)  # the machine is shared: no per-example deadline
@given(st.integers(min_value=8, max_value=2**62), st.integers(min_value=0, max_value=20))
def test_planned_truncation_obeys_the_ciphersweet_rule(rows: int, other: int) -> None:
    try:
        plan = plan_index_bits(rows, other_index_bits=other)
    except IndexPlanningError:
        # only when the other indexes already use up the range
        assert other > 0
        return
    total = plan.bits + other
    # exact integer forms of 2 <= rows / 2**total <= sqrt(rows)
    assert rows >= 2 * 2**total
    assert rows <= 4**total
    # and it is the largest such choice: one more bit would leave fewer than 2 coincidences
    assert rows < 2 * 2 ** (total + 1)


@pytest.mark.parametrize("rows", [0, 1, 3, 5])
def test_planner_refuses_impossible_row_counts(rows: int) -> None:
    with pytest.raises(IndexPlanningError):
        plan_index_bits(rows)
