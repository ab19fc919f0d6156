"""Signed checkpoints of the tamper-evident log: C2SP tlog-checkpoint in a C2SP signed note, Ed25519.

A checkpoint note looks like::

    rfl.example.org/audit/IT
    42
    3pI7...base64 root...=

    — rfl.example.org/audit/IT Az3grl...base64(key hash || signature)...

The body is the origin line, the tree size in decimal, the base64 root hash, then optional extension
lines. The signature covers the body (with its final newline); the key hash is the first 4 bytes of
SHA-256(name || 0x0A || 0x01 || public key). Verification needs the public key alone, e.g. from the
verifier key string ``<name>+<key hash hex>+<base64(0x01 || public key)>``.

The signing key lives in its own file, apart from the data keys (:func:`create_signing_key_file`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from privacy.errors import CheckpointError, KeyConfigurationError
from privacy.keys import check_private_file, create_private_file
from privacy.merkle import HASH_BYTES

_ALG_ED25519 = 0x01
_SIG_PREFIX = "— "  # U+2014 EM DASH, then a space
_MAX_SIGNATURES = 100
_SIZE_RE = re.compile(r"0|[1-9][0-9]*")
_SIGNING_KEY_FORMAT = "rfl-checkpoint-signing-key"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: the log's origin, its size and its root hash, plus optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """The signed text of the note, ending with a newline."""
        if not self.origin or "\n" in self.origin or _has_control(self.origin):
            raise CheckpointError("bad origin line")
        if self.size < 0:
            raise CheckpointError("negative tree size")
        if len(self.root) != HASH_BYTES:
            raise CheckpointError("root hash must be 32 bytes")
        for line in self.extensions:
            if not line or "\n" in line or _has_control(line):
                raise CheckpointError("bad extension line")
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii"), *self.extensions]
        return "\n".join(lines) + "\n"


def _has_control(s: str) -> bool:
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in s if ch != "\n")


def _check_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name) or _has_control(name):
        raise CheckpointError("a key name is non-empty, without spaces or '+'")


def key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte key hash of an Ed25519 signed-note key."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes((_ALG_ED25519,)) + public_key).digest()[:4]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True, slots=True)
class CheckpointVerifier:
    """A signed-note verifier: a key name and an Ed25519 public key."""

    name: str
    public_key: Ed25519PublicKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, _raw_public(self.public_key))

    @property
    def vkey(self) -> str:
        """The verifier key string an auditor keeps outside the system."""
        encoded = base64.b64encode(bytes((_ALG_ED25519,)) + _raw_public(self.public_key)).decode("ascii")
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"

    @classmethod
    def from_vkey(cls, vkey: str) -> CheckpointVerifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise CheckpointError("malformed verifier key")
        name, hash_hex, encoded = parts
        try:
            raw = base64.b64decode(encoded, validate=True)
            expected_hash = bytes.fromhex(hash_hex)
        except (binascii.Error, ValueError):
            raise CheckpointError("malformed verifier key") from None
        if len(raw) != 33 or raw[0] != _ALG_ED25519:
            raise CheckpointError("not an Ed25519 verifier key")
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
        if verifier.key_hash != expected_hash:
            raise CheckpointError("verifier key hash does not match")
        return verifier


@dataclass(frozen=True, slots=True)
class CheckpointSigner:
    """A signed-note signer: a key name (conventionally the log origin) and an Ed25519 private key."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @classmethod
    def generate(cls, name: str) -> CheckpointSigner:
        return cls(name, Ed25519PrivateKey.generate())

    def verifier(self) -> CheckpointVerifier:
        return CheckpointVerifier(self.name, self.private_key.public_key())


def sign_checkpoint(checkpoint: Checkpoint, signer: CheckpointSigner) -> str:
    """The signed note of ``checkpoint``: body, blank line, one signature line."""
    return sign_note(checkpoint.body(), signer)


def sign_note(text: str, signer: CheckpointSigner) -> str:
    """A C2SP signed note of any ``text`` (which must end with a newline), signed by ``signer``."""
    if not text.endswith("\n") or "\n\n" in text or _has_control(text):
        raise CheckpointError("note text must be newline-terminated lines without blank lines")
    signature = signer.private_key.sign(text.encode("utf-8"))
    public = _raw_public(signer.private_key.public_key())
    blob = base64.b64encode(key_hash(signer.name, public) + signature).decode("ascii")
    return f"{text}\n{_SIG_PREFIX}{signer.name} {blob}\n"


def parse_checkpoint_body(body: str) -> Checkpoint:
    if not body.endswith("\n"):
        raise CheckpointError("checkpoint body must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint body needs origin, size and root lines")
    origin, size_text, root_text, *extensions = lines
    if not _SIZE_RE.fullmatch(size_text):
        raise CheckpointError("bad tree size line")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError("bad root hash line") from None
    if base64.b64encode(root).decode("ascii") != root_text:
        raise CheckpointError("root hash is not canonical base64")
    checkpoint = Checkpoint(origin, int(size_text), root, tuple(extensions))
    checkpoint.body()  # validates every line
    return checkpoint


def _split_note(note: str | bytes) -> tuple[str, list[str]]:
    """Split a signed note into its text (with final newline) and its signature lines."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("note is not UTF-8") from None
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointError("note has no signature block")
    body, sig_block = note[: split + 1], note[split + 2 :]
    if _has_control(body):
        raise CheckpointError("control character in note text")
    if not sig_block.endswith("\n"):
        raise CheckpointError("signature block must end with a newline")
    sig_lines = sig_block[:-1].split("\n")
    if len(sig_lines) > _MAX_SIGNATURES:
        raise CheckpointError("too many signatures")
    return body, sig_lines


def _parse_signature_line(line: str) -> tuple[str, bytes]:
    """``— <name> <base64(key hash || signature)>`` to (name, blob)."""
    if not line.startswith(_SIG_PREFIX):
        raise CheckpointError("malformed signature line")
    name, sep, blob_text = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep or not name or " " in blob_text:
        raise CheckpointError("malformed signature line")
    try:
        blob = base64.b64decode(blob_text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError("malformed signature") from None
    if len(blob) < 5 or base64.b64encode(blob).decode("ascii") != blob_text:
        raise CheckpointError("malformed signature")  # also refuses non-canonical base64
    return name, blob


def open_note(note: str | bytes, verifier: CheckpointVerifier) -> str:
    """Return the text of a signed note if it carries a valid signature by ``verifier``.

    Signatures by other keys are ignored; a signature that claims to be by ``verifier`` (same name
    and key hash) but does not verify is an error.
    """
    body, sig_lines = _split_note(note)
    body_bytes = body.encode("utf-8")
    verified = False
    for line in sig_lines:
        name, blob = _parse_signature_line(line)
        if name != verifier.name or blob[:4] != verifier.key_hash:
            continue
        try:
            verifier.public_key.verify(blob[4:], body_bytes)
        except InvalidSignature:
            raise CheckpointError("invalid signature") from None
        verified = True
    if not verified:
        raise CheckpointError("no signature by the expected key")
    return body


def verify_checkpoint(
    note: str | bytes, verifier: CheckpointVerifier, *, origin: str | None = None
) -> Checkpoint:
    """Parse a signed checkpoint note and verify it carries a valid signature by ``verifier``.

    Signatures by other keys are ignored; a signature that claims to be by ``verifier`` but does not
    verify is an error. With ``origin``, the checkpoint's origin must equal it.
    """
    body = open_note(note, verifier)
    checkpoint = parse_checkpoint_body(body)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError("unexpected origin")
    return checkpoint


def create_signing_key_file(path: str | os.PathLike[str], name: str) -> CheckpointSigner:
    """Generate an Ed25519 checkpoint-signing key into a new file of its own (mode 0600).

    Format: ``{"format": "rfl-checkpoint-signing-key", "version": 1, "name": ...,
    "private_key": "<base64 32-byte seed>"}``. Keep it apart from the data key file.
    """
    signer = CheckpointSigner.generate(name)
    seed = signer.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    doc = {
        "format": _SIGNING_KEY_FORMAT,
        "version": 1,
        "name": name,
        "private_key": base64.b64encode(seed).decode(),
    }
    create_private_file(Path(path), (json.dumps(doc, indent=2) + "\n").encode("utf-8"))
    return signer


def load_signing_key_file(path: str | os.PathLike[str]) -> CheckpointSigner:
    target = Path(path)
    check_private_file(target)
    try:
        doc = json.loads(target.read_text(encoding="utf-8"))
        if doc["format"] != _SIGNING_KEY_FORMAT or doc["version"] != 1:
            raise KeyConfigurationError("not an rfl checkpoint signing key file")
        seed = base64.b64decode(doc["private_key"], validate=True)
        return CheckpointSigner(str(doc["name"]), Ed25519PrivateKey.from_private_bytes(seed))
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise KeyConfigurationError("malformed checkpoint signing key file") from None
