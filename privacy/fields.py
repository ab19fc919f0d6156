"""Field ciphertext format, associated data and plaintext encoding (AES-256-GCM).

Binary format, version 1 (all integers big-endian)::

    offset  size  content
    0       1     format version (0x01)
    1       1     algorithm id (0x01 = AES-256-GCM, field key = HKDF-SHA256(DEK, info=table, column))
    2       4     DEK version
    6       12    random 96-bit nonce
    18      n+16  ciphertext and 16-byte tag

Associated data (see :func:`field_aad`) is the length-prefixed encoding of a label, the two header
bytes, table, column, row id, subject id and DEK version, so a ciphertext copied to another row, column or
subject, or relabelled with another DEK version, fails to decrypt. The KEK version is deliberately absent:
KEK rotation rewraps DEKs and never touches field ciphertexts.

Plaintext is one type byte then the value: 0x01 text (UTF-8), 0x02 date (ISO ``YYYY-MM-DD``), 0x03 list of
text (length-prefixed UTF-8 items). ``None`` is never encrypted: it stays ``None``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from datetime import date, datetime
from typing import TypeAlias

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from privacy._encoding import lp, text, u32
from privacy.errors import DecryptionError

FieldValue: TypeAlias = str | date | list[str]
"""What a field holds once decrypted: text, a date, or a list of texts."""

FORMAT_V1 = 0x01
ALG_AES256GCM_HKDF_SHA256 = 0x01
HEADER_BYTES = 6
NONCE_BYTES = 12
TAG_BYTES = 16
_MIN_TOKEN = HEADER_BYTES + NONCE_BYTES + TAG_BYTES + 1
_AAD_LABEL = b"rfl/field/v1"
_FIELD_KEY_LABEL = b"rfl/field-key/v1"

_T_TEXT = 0x01
_T_DATE = 0x02
_T_LIST = 0x03


def derive_field_key(dek: bytes, table: str, column: str) -> bytes:
    """The AES-256 key of one (table, column) under a DEK: HKDF-SHA256 with the pair as info."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=lp(_FIELD_KEY_LABEL, text(table), text(column))
    )
    return hkdf.derive(dek)


def header(dek_version: int) -> bytes:
    return bytes((FORMAT_V1, ALG_AES256GCM_HKDF_SHA256)) + u32(dek_version)


_AAD_PREFIX = lp(_AAD_LABEL, bytes((FORMAT_V1, ALG_AES256GCM_HKDF_SHA256)))


def field_aad(table: str, column: str, row_id: str, subject_id: str, dek_version: int) -> bytes:
    """Canonical associated data of a field ciphertext (format version 1): the length-prefixed
    encoding of label, header bytes, table, column, row id, subject id and DEK version."""
    return aad_head(table, column) + aad_tail(row_id, subject_id, dek_version)


@functools.lru_cache(maxsize=1024)  # a schema has few (table, column) pairs
def aad_head(table: str, column: str) -> bytes:
    """The first part of :func:`field_aad` (label, header bytes, table, column)."""
    return _AAD_PREFIX + lp(text(table), text(column))


def aad_tail(row_id: str, subject_id: str, dek_version: int) -> bytes:
    """The last part of :func:`field_aad` (row id, subject id, DEK version), shared by a row's columns."""
    return lp(text(row_id), text(subject_id), u32(dek_version))


def encode_value(value: FieldValue) -> bytes:
    if isinstance(value, str):
        return bytes((_T_TEXT,)) + value.encode("utf-8")
    if isinstance(value, datetime):
        raise TypeError("a field value may be a date but not a datetime")
    if isinstance(value, date):
        return bytes((_T_DATE,)) + value.isoformat().encode("ascii")
    if isinstance(value, (list, tuple)):
        items: Sequence[object] = value
        if not all(isinstance(item, str) for item in items):
            raise TypeError("a list field holds text items only")
        return bytes((_T_LIST,)) + lp(*(str(item).encode("utf-8") for item in items))
    raise TypeError("a field value is text, a date or a list of text")


def decode_value(data: bytes) -> FieldValue:
    """Inverse of :func:`encode_value`; raises ValueError on malformed input."""
    kind, body = data[0], data[1:]
    if kind == _T_TEXT:
        return body.decode("utf-8")
    if kind == _T_DATE:
        if len(body) != 10:
            raise ValueError("bad date")
        return date.fromisoformat(body.decode("ascii"))
    if kind == _T_LIST:
        items: list[str] = []
        pos = 0
        while pos < len(body):
            if pos + 4 > len(body):
                raise ValueError("bad list")
            size = int.from_bytes(body[pos : pos + 4], "big")
            pos += 4
            if pos + size > len(body):
                raise ValueError("bad list")
            items.append(body[pos : pos + size].decode("utf-8"))
            pos += size
        return items
    raise ValueError("unknown value type")


def parse_header(token: bytes) -> int:
    """Return the DEK version of a well-formed version-1 token; raise DecryptionError otherwise."""
    if len(token) < _MIN_TOKEN or token[0] != FORMAT_V1 or token[1] != ALG_AES256GCM_HKDF_SHA256:
        raise DecryptionError
    return int.from_bytes(token[2:HEADER_BYTES], "big")


def seal(
    aead: AESGCM, dek_version: int, aad: bytes, value: FieldValue, *, _nonce: bytes | None = None
) -> bytes:
    """Encrypt one value. ``_nonce`` exists for known-answer tests only; production never passes it."""
    nonce = os.urandom(NONCE_BYTES) if _nonce is None else _nonce
    return header(dek_version) + nonce + aead.encrypt(nonce, encode_value(value), aad)


def open_sealed(aead: AESGCM, token: bytes, aad: bytes) -> FieldValue:
    """Decrypt one token whose header was checked by :func:`parse_header`; every failure is opaque."""
    try:
        plain = aead.decrypt(
            token[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES], token[HEADER_BYTES + NONCE_BYTES :], aad
        )
        return decode_value(plain)
    except (InvalidTag, ValueError, IndexError):
        raise DecryptionError from None


def needs_reencryption(token: bytes, current_dek_version: int) -> bool:
    """True when a stored ciphertext is not in the current format, algorithm or DEK version.

    Malformed tokens count as needing re-encryption (they cannot be read as they are).
    """
    try:
        return parse_header(token) != current_dek_version
    except DecryptionError:
        return True
