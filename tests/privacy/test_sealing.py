"""Row seals: a keyed MAC over a row's control columns that catches any change, move or copy."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from privacy import BlindIndexer, BlindIndexSpec, LocalKeyProvider, RowSealer, SealValue

ROW = "5f0c6f3e-4b7a-4a27-9d8e-3c1f2a9b7e11"
SIGHTING: dict[str, SealValue] = {
    "no_cross_border": True,
    "exclude": ["DE", "0b7e1c2a-9d8e-4a27-b7e1-5f0c6f3e4b7a"],
    "minor": False,
    "deceased": False,
}
# The consent issue seals consent rows with the same recipe.
CONSENT: dict[str, SealValue] = {
    "decision": "given",
    "scope": ["alive_and_well", "whereabouts"],
    "recipient": "0b7e1c2a-9d8e-4a27-b7e1-5f0c6f3e4b7a",
    "method": "written",
    "expires_at": datetime(2027, 1, 1, tzinfo=UTC),
}


def sealed(provider: LocalKeyProvider, fields: Mapping[str, SealValue], table: str = "sightings") -> bytes:
    return RowSealer(provider, "IT").seal(table, ROW, fields)


@pytest.mark.parametrize("fields", [SIGHTING, CONSENT, {}])
def test_a_seal_verifies_the_fields_it_was_made_of(
    provider: LocalKeyProvider, fields: dict[str, SealValue]
) -> None:
    seal = sealed(provider, fields)

    assert len(seal) == 37
    assert RowSealer(provider, "IT").verify("sightings", ROW, dict(reversed(fields.items())), seal)


@pytest.mark.parametrize(
    "change",
    [
        {"no_cross_border": False},  # a restriction lifted
        {"exclude": ["DE"]},  # an exclusion dropped
        {"exclude": list(reversed(SIGHTING["exclude"]))},  # type: ignore[call-overload]
        {"minor": True},
        {"deceased": None},
        {"extra": "x"},  # a field added
    ],
)
def test_any_changed_or_added_field_fails(provider: LocalKeyProvider, change: dict[str, SealValue]) -> None:
    seal = sealed(provider, SIGHTING)

    assert not RowSealer(provider, "IT").verify("sightings", ROW, SIGHTING | change, seal)


def test_a_removed_field_fails(provider: LocalKeyProvider) -> None:
    seal = sealed(provider, SIGHTING)
    fewer = {name: value for name, value in SIGHTING.items() if name != "exclude"}

    assert not RowSealer(provider, "IT").verify("sightings", ROW, fewer, seal)


def test_a_seal_copied_to_another_row_table_or_ring_fails(provider: LocalKeyProvider) -> None:
    seal = sealed(provider, SIGHTING)

    assert not RowSealer(provider, "IT").verify("sightings", ROW[:-1] + "2", SIGHTING, seal)
    assert not RowSealer(provider, "IT").verify("tracing_requests", ROW, SIGHTING, seal)
    assert not RowSealer(provider, "GR").verify("sightings", ROW, SIGHTING, seal)


@pytest.mark.parametrize(
    "damage",
    [
        lambda seal: None,
        lambda seal: b"",
        lambda seal: seal[:-1],
        lambda seal: seal + b"\x00",
        lambda seal: bytes((2,)) + seal[1:],  # unknown format
        lambda seal: seal[:1] + (99).to_bytes(4, "big") + seal[5:],  # a key version the ring lacks
        lambda seal: seal[:-1] + bytes((seal[-1] ^ 1,)),  # one bit of the tag
    ],
)
def test_missing_malformed_or_flipped_seals_fail_without_raising(
    provider: LocalKeyProvider, damage: object
) -> None:
    seal = sealed(provider, SIGHTING)

    assert not RowSealer(provider, "IT").verify("sightings", ROW, SIGHTING, damage(seal))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("left", "right"),
    [(True, 1), (1, "1"), (None, []), ([], ""), (["ab"], ["a", "b"]), (date(2026, 1, 1), "2026-01-01")],
)
def test_values_are_typed(provider: LocalKeyProvider, left: SealValue, right: SealValue) -> None:
    seal = sealed(provider, {"field": left})

    assert not RowSealer(provider, "IT").verify("sightings", ROW, {"field": right}, seal)


def test_a_time_is_sealed_as_its_instant(provider: LocalKeyProvider) -> None:
    seal = sealed(provider, {"expires_at": datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))})

    assert RowSealer(provider, "IT").verify(
        "sightings", ROW, {"expires_at": datetime(2026, 1, 1, tzinfo=UTC)}, seal
    )


def test_bad_values_and_names_are_refused(provider: LocalKeyProvider) -> None:
    sealer = RowSealer(provider, "IT")

    with pytest.raises(ValueError, match="timezone-aware"):
        sealer.seal("t", ROW, {"at": datetime(2026, 1, 1)})
    with pytest.raises(TypeError, match="sealed value"):
        sealer.seal("t", ROW, {"x": 1.5})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="names"):
        sealer.seal("t", ROW, {"": True})
    with pytest.raises(ValueError, match="row id"):
        sealer.seal("t", "", {})


def test_old_seals_verify_after_the_rings_key_rotates(provider: LocalKeyProvider) -> None:
    before = sealed(provider, SIGHTING)
    provider.rotate_index_key("IT")

    after = sealed(provider, SIGHTING)

    assert before[1:5] == (1).to_bytes(4, "big")
    assert after[1:5] == (2).to_bytes(4, "big")
    assert RowSealer(provider, "IT").verify("sightings", ROW, SIGHTING, before)
    assert RowSealer(provider, "IT").verify("sightings", ROW, SIGHTING, after)


def test_the_sealing_key_is_not_a_blind_index_key(provider: LocalKeyProvider) -> None:
    # The same root key, but HKDF labels keep the two uses apart: no seal equals an index value.
    index = BlindIndexer(provider, "IT").value(BlindIndexSpec("seal", 1, 256), "sightings")

    assert index.value not in sealed(provider, {})


def _prefixed(*parts: bytes) -> bytes:
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def test_the_sealed_message_is_the_documented_encoding() -> None:
    """What the MAC covers, spelled out: stored seals verify only while this stays byte for byte."""
    from privacy.sealing import _message

    fields: dict[str, SealValue] = {
        "minor": False,
        "no_cross_border": True,
        "age": 17,
        "nothing": None,
        "society_id": "IT",
        "exclude": ["DE", "SE"],
        "none_excluded": [],
        "expires_at": datetime(2027, 1, 1, 12, 30, tzinfo=timezone(timedelta(hours=2))),
        "born": date(2009, 5, 4),
    }
    encoded = {
        "age": b"\x02" + b"17",
        "born": b"\x05" + b"2009-05-04",
        "exclude": b"\x06" + _prefixed(b"DE", b"SE"),
        "expires_at": b"\x04" + b"2027-01-01T10:30:00+00:00",
        "minor": b"\x01\x00",
        "no_cross_border": b"\x01\x01",
        "none_excluded": b"\x06",
        "nothing": b"\x00",
        "society_id": b"\x03" + b"IT",
    }
    expected = _prefixed(
        b"rfl/row-seal/v1",
        b"sightings",
        ROW.encode(),
        *(_prefixed(name.encode(), encoded[name]) for name in sorted(encoded)),
    )

    assert _message("sightings", ROW, fields) == expected
