"""Keyed hashes: deterministic under one secret, unrelated under another, separated by purpose and parts."""

from __future__ import annotations

import pytest

from privacy import keyed_hash

SECRET = b"s" * 32


def test_the_same_input_gives_the_same_hash() -> None:
    assert keyed_hash(SECRET, "login-email", "a@example.org") == keyed_hash(
        SECRET, "login-email", "a@example.org"
    )


def test_another_secret_gives_an_unrelated_hash() -> None:
    assert keyed_hash(SECRET, "login-email", "a@example.org") != keyed_hash(
        b"t" * 32, "login-email", "a@example.org"
    )


def test_the_purpose_separates_domains() -> None:
    assert keyed_hash(SECRET, "login-email", "x") != keyed_hash(SECRET, "login-client", "x")


def test_parts_are_unambiguous() -> None:
    # Without length prefixes "ab" + "c" and "a" + "bc" would hash alike.
    assert keyed_hash(SECRET, "p", "ab", "c") != keyed_hash(SECRET, "p", "a", "bc")


def test_text_and_its_utf8_bytes_hash_alike() -> None:
    assert keyed_hash(SECRET, "p", "Zoë") == keyed_hash(SECRET, "p", "Zoë".encode())


@pytest.mark.parametrize(("secret", "purpose"), [(b"", "p"), (SECRET, "")])
def test_a_secret_and_a_purpose_are_required(secret: bytes, purpose: str) -> None:
    with pytest.raises(ValueError, match="needs a"):
        keyed_hash(secret, purpose, "x")
