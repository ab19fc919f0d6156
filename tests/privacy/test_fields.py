"""Field format: frozen known answers, bit flips, moved ciphertexts, nonce uniqueness, value types."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy import DecryptionError, FieldVault, LocalKeyProvider, Subject, WrappedDek, needs_reencryption
from privacy.fields import (
    HEADER_BYTES,
    NONCE_BYTES,
    derive_field_key,
    field_aad,
    open_sealed,
    parse_header,
    seal,
)
from privacy.keys import wrap_aad
from privacy.testing import InMemoryKeyStore

# -- known answers (a change here is a format change: bump the format version instead) -------------

KAT_DEK = bytes(range(32))
KAT_TABLE, KAT_COLUMN = "sightings", "whereabouts"
KAT_ROW = "3f2c0a4e-1b7d-4e8a-9c61-0d5b2f7a9e10"
KAT_SUBJECT = "subject-0001"
KAT_DEK_VERSION = 7
KAT_NONCE = bytes.fromhex("000102030405060708090a0b")
KAT_FIELD_KEY = "b732ef664f6e145268a3dabbb5fdcd484cb77d41e313c6dc85a0d9f0a39093f2"
KAT_AAD = (
    "0000000c" + b"rfl/field/v1".hex()
    + "00000002" + "0101"
    + "00000009" + b"sightings".hex()
    + "0000000b" + b"whereabouts".hex()
    + "00000024" + KAT_ROW.encode().hex()
    + "0000000c" + b"subject-0001".hex()
    + "00000004" + "00000007"
)  # fmt: skip
KAT_AAD_HEX = (
    "0000000c72666c2f6669656c642f7631000000020101000000097369676874696e67730000000b776865726561626f7574"
    "730000002433663263306134652d316237642d346538612d396336312d3064356232663761396531300000000c7375626a"
    "6563742d303030310000000400000007"
)
KAT_TOKENS: list[tuple[object, str]] = [
    (
        "Camp 4, tent 12",
        "010100000007000102030405060708090a0b38f8984914b46a687efdef2383a716f0e2af1d1e5e2777e62c59cf28c1b9e169",
    ),
    (
        date(1994, 3, 1),
        "010100000007000102030405060708090a0b3b8ac01d50b96e7773b9bb2a5367f9ff494209475d8b512531c0b0",
    ),
    (
        ["Yusuf", "يوسف"],
        "010100000007000102030405060708090a0b3abbf92461cd2b372bef8a4df78ffe48e6af00170c9aea9e136b512c2adc84803ca6a439b458",
    ),
    ("", "010100000007000102030405060708090a0b38c7accfc436d47bb9e7150d0780361787"),
]


def kat_aead() -> AESGCM:
    return AESGCM(derive_field_key(KAT_DEK, KAT_TABLE, KAT_COLUMN))


def kat_aad() -> bytes:
    return field_aad(KAT_TABLE, KAT_COLUMN, KAT_ROW, KAT_SUBJECT, KAT_DEK_VERSION)


def test_field_key_derivation_known_answer() -> None:
    assert derive_field_key(KAT_DEK, KAT_TABLE, KAT_COLUMN).hex() == KAT_FIELD_KEY


def test_aad_encoding_known_answer() -> None:
    # Given the canonical length-prefixed layout spelled out part by part
    # Then the encoder produces exactly it
    assert KAT_AAD == KAT_AAD_HEX
    assert kat_aad().hex() == KAT_AAD_HEX


@pytest.mark.parametrize(("value", "token_hex"), KAT_TOKENS)
def test_field_ciphertext_known_answer(value: object, token_hex: str) -> None:
    token = seal(kat_aead(), KAT_DEK_VERSION, kat_aad(), value, _nonce=KAT_NONCE)  # type: ignore[arg-type]
    assert token.hex() == token_hex
    assert open_sealed(kat_aead(), bytes.fromhex(token_hex), kat_aad()) == value


def test_vault_reads_the_known_answer_token(provider: LocalKeyProvider, store: InMemoryKeyStore) -> None:
    # Given the known-answer DEK stored for the subject the way the vault stores keys
    aad = wrap_aad("IT", KAT_SUBJECT, KAT_DEK_VERSION, provider.active_kek_version("IT"))
    kek_version, wrapped = provider.wrap_dek("IT", KAT_DEK, aad)
    store.store(WrappedDek("IT", KAT_SUBJECT, KAT_DEK_VERSION, kek_version, wrapped, datetime.now(UTC)))
    vault = FieldVault(provider, store)
    # When the frozen token is decrypted through the recipe
    value = vault.decrypt(
        Subject("IT", KAT_SUBJECT), KAT_TABLE, KAT_COLUMN, KAT_ROW, bytes.fromhex(KAT_TOKENS[0][1])
    )
    # Then the recipe uses the same format, key derivation and AAD
    assert value == "Camp 4, tent 12"


def test_header_layout(vault: FieldVault, alice: Subject) -> None:
    token = vault.encrypt(alice, "t", "c", "r", "x")
    assert token is not None
    assert token[0] == 0x01  # format version
    assert token[1] == 0x01  # AES-256-GCM
    assert parse_header(token) == 1  # DEK version
    assert len(token) == HEADER_BYTES + NONCE_BYTES + 1 + 1 + 16


# -- tampering -----------------------------------------------------------------------------------------


def flipped(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_every_single_bit_flip_of_the_token_fails(vault: FieldVault, alice: Subject) -> None:
    # Given a token (header, nonce, ciphertext and tag)
    token = vault.encrypt(alice, "sightings", "whereabouts", "row-1", "Camp 4, tent 12")
    assert token is not None
    assert vault.decrypt(alice, "sightings", "whereabouts", "row-1", token) == "Camp 4, tent 12"
    # Then flipping any one of its bits makes decryption fail with the one opaque error
    for bit in range(len(token) * 8):
        with pytest.raises(DecryptionError):
            vault.decrypt(alice, "sightings", "whereabouts", "row-1", flipped(token, bit))


def test_every_single_bit_flip_of_the_associated_data_fails() -> None:
    aad = kat_aad()
    token = seal(kat_aead(), KAT_DEK_VERSION, aad, "Camp 4, tent 12")
    assert open_sealed(kat_aead(), token, aad) == "Camp 4, tent 12"
    for bit in range(len(aad) * 8):
        with pytest.raises(DecryptionError):
            open_sealed(kat_aead(), token, flipped(aad, bit))


@pytest.mark.parametrize(
    "place",
    [
        ("sightings", "whereabouts", "row-2", "subject-alice"),  # another row
        ("sightings", "contact", "row-1", "subject-alice"),  # another column
        ("tracing_requests", "whereabouts", "row-1", "subject-alice"),  # another table
        ("sightings", "whereabouts", "row-1", "subject-bob"),  # another subject
    ],
)
def test_moved_ciphertext_fails(vault: FieldVault, alice: Subject, place: tuple[str, str, str, str]) -> None:
    table, column, row_id, subject_id = place
    token = vault.encrypt(alice, "sightings", "whereabouts", "row-1", "Camp 4, tent 12")
    vault.encrypt(
        Subject("IT", "subject-bob"), "sightings", "whereabouts", "row-1", "other"
    )  # bob has a key too
    assert vault.decrypt(alice, "sightings", "whereabouts", "row-1", token) == "Camp 4, tent 12"
    with pytest.raises(DecryptionError):
        vault.decrypt(Subject("IT", subject_id), table, column, row_id, token)


def test_ciphertext_under_another_ring_fails(vault: FieldVault) -> None:
    token = vault.encrypt(Subject("IT", "s1"), "t", "c", "r", "v")
    vault.encrypt(Subject("GR", "s1"), "t", "c", "r", "w")
    with pytest.raises(DecryptionError):
        vault.decrypt(Subject("GR", "s1"), "t", "c", "r", token)


@pytest.mark.parametrize(
    "token",
    [
        b"",
        b"\x01",
        b"\x01\x01\x00\x00\x00\x01" + bytes(12 + 16),  # no type byte: too short
        b"\x02\x01\x00\x00\x00\x01" + bytes(40),  # unknown format version
        b"\x01\x02\x00\x00\x00\x01" + bytes(40),  # unknown algorithm
        b"\x01\x01\x00\x00\x00\x09" + bytes(40),  # unknown DEK version
    ],
)
def test_malformed_tokens_fail_opaquely(vault: FieldVault, alice: Subject, token: bytes) -> None:
    vault.ensure_subject_key(alice)
    with pytest.raises(DecryptionError) as info:
        vault.decrypt(alice, "t", "c", "r", token)
    assert str(info.value) == "decryption failed"


def test_decryption_error_is_opaque_and_unchained(vault: FieldVault, alice: Subject) -> None:
    secret = "Camp 4, tent 12 near the old mill"
    token = vault.encrypt(alice, "t", "c", "r", secret)
    assert token is not None
    with pytest.raises(DecryptionError) as info:
        vault.decrypt(alice, "t", "c", "r", flipped(token, len(token) * 8 - 1))
    assert str(info.value) == "decryption failed"
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert secret not in repr(info.value)


def test_two_to_the_17_encryptions_never_repeat_a_nonce(vault: FieldVault, alice: Subject) -> None:
    # Given one subject and one column, i.e. one field key
    n = 2**17
    encrypt = vault.encrypt
    # When it encrypts 2^17 values through the real path
    nonces = {
        token[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        for token in (encrypt(alice, "t", "c", "r", "v") for _ in range(n))
        if token is not None
    }
    # Then every nonce is distinct
    assert len(nonces) == n


# -- values --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Tesfay",
        "Абдулрахман",
        "ተስፋይ",
        "محمد بن يوسف",
        "a\x00b",
        date(2001, 2, 28),
        [],
        ["x"],
        ["", "y z"],
    ],
)
def test_values_round_trip(vault: FieldVault, alice: Subject, value: object) -> None:
    token = vault.encrypt(alice, "t", "c", "r", value)  # type: ignore[arg-type]
    assert vault.decrypt(alice, "t", "c", "r", token) == value


def test_none_stays_none(vault: FieldVault, alice: Subject) -> None:
    assert vault.encrypt(alice, "t", "c", "r", None) is None
    assert vault.decrypt(alice, "t", "c", "r", None) is None
    assert vault.encrypt_fields(alice, "t", "r", {"a": None, "b": "x"})["a"] is None


@pytest.mark.parametrize("value", [datetime(2020, 1, 1, tzinfo=UTC), 3, b"bytes", ["x", 1]])
def test_unsupported_values_are_refused(vault: FieldVault, alice: Subject, value: object) -> None:
    with pytest.raises(TypeError):
        vault.encrypt(alice, "t", "c", "r", value)  # type: ignore[arg-type]


def test_record_round_trip(vault: FieldVault, alice: Subject) -> None:
    values = {f"field_{i}": f"value {i}" for i in range(15)} | {"dob": date(1990, 1, 1), "none": None}
    tokens = vault.encrypt_fields(alice, "sightings", "row-1", values)
    assert vault.decrypt_fields(alice, "sightings", "row-1", tokens) == values


def test_needs_reencryption_reads_the_header() -> None:
    token = seal(kat_aead(), 3, kat_aad(), "x")
    assert not needs_reencryption(token, 3)
    assert needs_reencryption(token, 4)
    assert needs_reencryption(b"\x02" + token[1:], 3)
    assert needs_reencryption(b"", 3)
