"""Signed checkpoints: the C2SP signed-note format, signing, verification with the public key alone."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from privacy import (
    Checkpoint,
    CheckpointError,
    CheckpointSigner,
    CheckpointVerifier,
    KeyConfigurationError,
    create_signing_key_file,
    leaf_hash,
    load_signing_key_file,
    sign_checkpoint,
    tree_root,
    verify_checkpoint,
)
from privacy.checkpoint import key_hash, open_note, sign_note

# The example key and note of the Go reference implementation (golang.org/x/mod/sumdb/note).
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY_MATERIAL = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"  # 0x01 || Ed25519 seed
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_SIG = (
    "— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)

ORIGIN = "rfl.example.org/audit/IT"
KAT_NOTE = (
    "rfl.example.org/audit/IT\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n"
    "— rfl.example.org/audit/IT "
    "Sv8qtSBv72+sxgVUnLfSViBGYHEjWcb1ucUSnYisUSfNPgeqXgE6kYkrlJugKT1EyfpA6pZ2XnQwY2s/LIjtcJgZ/w0=\n"
)


def go_signer() -> CheckpointSigner:
    raw = base64.b64decode(GO_SKEY_MATERIAL)
    assert raw[0] == 0x01
    return CheckpointSigner("PeterNeumann", Ed25519PrivateKey.from_private_bytes(raw[1:]))


def kat_signer() -> CheckpointSigner:
    return CheckpointSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


@pytest.fixture
def signer() -> CheckpointSigner:
    return CheckpointSigner.generate(ORIGIN)


@pytest.fixture
def checkpoint() -> Checkpoint:
    hashes = [leaf_hash(str(i).encode()) for i in range(10)]
    return Checkpoint(ORIGIN, 10, tree_root(hashes))


# -- interoperability with the reference implementation -----------------------------------------------


def test_go_reference_key_and_signature_are_reproduced() -> None:
    signer = go_signer()
    assert signer.verifier().vkey == GO_VKEY
    assert sign_note(GO_TEXT, signer) == GO_TEXT + "\n" + GO_SIG


def test_go_reference_note_verifies_with_the_public_key_alone() -> None:
    verifier = CheckpointVerifier.from_vkey(GO_VKEY)
    assert open_note(GO_TEXT + "\n" + GO_SIG, verifier) == GO_TEXT


def test_key_hash_is_the_first_four_bytes_of_sha256_of_name_newline_type_key() -> None:
    public = (
        go_signer()
        .private_key.public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    expected = hashlib.sha256(b"PeterNeumann\n\x01" + public).digest()[:4]
    assert key_hash("PeterNeumann", public) == expected
    assert expected.hex() == "c74f20a3"


def test_checkpoint_known_answer() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 42, bytes(range(32))), kat_signer())
    assert note == KAT_NOTE
    lines = note.split("\n")
    assert lines[:4] == [ORIGIN, "42", base64.b64encode(bytes(range(32))).decode(), ""]
    assert lines[4].startswith("\u2014 " + ORIGIN + " ")
    assert verify_checkpoint(note, kat_signer().verifier()) == Checkpoint(ORIGIN, 42, bytes(range(32)))


# -- round trip and tampering ---------------------------------------------------------------------------


def test_sign_and_verify(signer: CheckpointSigner, checkpoint: Checkpoint) -> None:
    note = sign_checkpoint(checkpoint, signer)
    verifier = CheckpointVerifier.from_vkey(signer.verifier().vkey)  # an auditor holds only this string
    assert verify_checkpoint(note, verifier, origin=ORIGIN) == checkpoint
    assert verify_checkpoint(note.encode(), verifier) == checkpoint


def test_extension_lines_are_signed(signer: CheckpointSigner) -> None:
    cp = Checkpoint(ORIGIN, 1, bytes(32), ("Timestamp: 1700000000",))
    note = sign_checkpoint(cp, signer)
    assert verify_checkpoint(note, signer.verifier()) == cp
    with pytest.raises(CheckpointError):
        verify_checkpoint(note.replace("1700000000", "1700000001"), signer.verifier())


def test_every_single_bit_flip_of_the_note_fails(signer: CheckpointSigner, checkpoint: Checkpoint) -> None:
    note = sign_checkpoint(checkpoint, signer).encode()
    for bit in range(len(note) * 8):
        tampered = bytearray(note)
        tampered[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(CheckpointError):
            verify_checkpoint(bytes(tampered), signer.verifier())


@pytest.mark.parametrize(
    "tamper",
    [
        lambda n: n.replace("\n10\n", "\n11\n", 1),  # size
        lambda n: n.replace(ORIGIN + "\n", "rfl.example.org/audit/GR\n", 1),  # origin
        lambda n: n.replace("\n\n", "\nextra\n\n", 1),  # added line
        lambda n: n.replace("\n\n", "\n", 1),  # no blank line
        lambda n: n[:-1],  # no final newline
        lambda n: n.split("\n\n")[0] + "\n\n",  # signature removed
        lambda n: n.replace("\u2014", "-"),  # not an em dash
    ],
)
def test_tampered_notes_fail(signer: CheckpointSigner, checkpoint: Checkpoint, tamper: object) -> None:
    note = sign_checkpoint(checkpoint, signer)
    assert callable(tamper)
    with pytest.raises(CheckpointError):
        verify_checkpoint(tamper(note), signer.verifier())


def test_wrong_key_and_wrong_origin_fail(signer: CheckpointSigner, checkpoint: Checkpoint) -> None:
    note = sign_checkpoint(checkpoint, signer)
    with pytest.raises(CheckpointError):
        verify_checkpoint(note, CheckpointSigner.generate(ORIGIN).verifier())  # same name, other key
    with pytest.raises(CheckpointError):
        verify_checkpoint(note, CheckpointSigner.generate("someone-else").verifier())
    with pytest.raises(CheckpointError):
        verify_checkpoint(note, signer.verifier(), origin="rfl.example.org/audit/GR")


def test_other_signatures_are_ignored(signer: CheckpointSigner, checkpoint: Checkpoint) -> None:
    # A witness cosigns: the note carries two signature lines; each key verifies its own
    witness = CheckpointSigner.generate("witness.example")
    note = sign_checkpoint(checkpoint, signer)
    cosigned = note + sign_note(checkpoint.body(), witness).split("\n\n", 1)[1]
    assert verify_checkpoint(cosigned, signer.verifier()) == checkpoint
    assert verify_checkpoint(cosigned, witness.verifier()) == checkpoint


def test_a_forged_signature_claiming_the_key_fails(signer: CheckpointSigner, checkpoint: Checkpoint) -> None:
    good = sign_checkpoint(checkpoint, signer)
    blob = base64.b64decode(good.rsplit(" ", 1)[1])
    forged_blob = base64.b64encode(blob[:4] + bytes(64)).decode()
    forged = good.rsplit(" ", 1)[0] + " " + forged_blob + "\n"
    with pytest.raises(CheckpointError):
        verify_checkpoint(forged + good.split("\n\n", 1)[1], signer.verifier())


@pytest.mark.parametrize(
    "body",
    [
        "o\n-1\nAAAA\n",
        "o\n01\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "o\n1\nshort\n",
        "o\n1\n",
        "\n1\n" + base64.b64encode(bytes(32)).decode() + "\n",
    ],
)
def test_malformed_checkpoint_bodies_fail_even_when_signed(signer: CheckpointSigner, body: str) -> None:
    with pytest.raises(CheckpointError):
        verify_checkpoint(sign_note(body, signer), signer.verifier())


@pytest.mark.parametrize(
    "vkey", [GO_VKEY.replace("c74f20a3", "c74f20a4"), GO_VKEY + "+x", GO_VKEY.replace("+AR", "+AS"), "a+b"]
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(CheckpointError):
        CheckpointVerifier.from_vkey(vkey)


@pytest.mark.parametrize("name", ["", "has space", "has+plus"])
def test_bad_key_names_are_refused(name: str) -> None:
    with pytest.raises(CheckpointError):
        CheckpointSigner.generate(name)


def test_invalid_checkpoints_cannot_be_signed(signer: CheckpointSigner) -> None:
    with pytest.raises(CheckpointError):
        sign_checkpoint(Checkpoint(ORIGIN, 1, b"short"), signer)
    with pytest.raises(CheckpointError):
        sign_checkpoint(Checkpoint("a\nb", 1, bytes(32)), signer)


# -- the signing key file ------------------------------------------------------------------------------


def test_signing_key_file_is_private_and_separate(tmp_path: Path, checkpoint: Checkpoint) -> None:
    path = tmp_path / "checkpoint-signing-key.json"
    signer = create_signing_key_file(path, ORIGIN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["format"] == "rfl-checkpoint-signing-key"
    loaded = load_signing_key_file(path)
    note = sign_checkpoint(checkpoint, loaded)
    assert verify_checkpoint(note, signer.verifier()) == checkpoint
    with pytest.raises(FileExistsError):
        create_signing_key_file(path, ORIGIN)
    path.chmod(0o640)
    with pytest.raises(KeyConfigurationError):
        load_signing_key_file(path)
