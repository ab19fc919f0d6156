"""Canonical length-prefixed encoding shared by the AAD, key-wrap and blind-index inputs."""

from __future__ import annotations

_U32_MAX = 0xFFFFFFFF


def lp(*parts: bytes) -> bytes:
    """Concatenate ``parts``, each preceded by its length as a 4-byte big-endian integer.

    Unambiguous by construction: no choice of parts can produce the encoding of another choice.
    """
    # to_bytes raises OverflowError for a part of 4 GiB or more
    return b"".join([len(part).to_bytes(4, "big") + part for part in parts])


def u32(value: int) -> bytes:
    """A version number as 4 big-endian bytes."""
    if not 0 <= value <= _U32_MAX:
        raise ValueError("version out of range")
    return value.to_bytes(4, "big")


def text(value: str) -> bytes:
    """UTF-8 bytes of an identifier; surrogates are refused by the codec."""
    return value.encode("utf-8")
