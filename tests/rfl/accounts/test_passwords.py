"""Argon2id hashing: parameters from settings, rehash when they change."""

from __future__ import annotations

from rfl.accounts.passwords import MIN_PASSWORD_LENGTH, Argon2Parameters, Passwords, password_problems
from tests.conftest import CHEAP_ARGON2


def test_hashes_are_argon2id_and_verify() -> None:
    passwords = Passwords(CHEAP_ARGON2)

    stored = passwords.hash("a long password!")

    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "a long password!")
    assert not passwords.verify(stored, "a long password?")


def test_unknown_user_never_verifies() -> None:
    passwords = Passwords(CHEAP_ARGON2)

    assert not passwords.verify(None, "anything at all")


def test_garbage_hash_does_not_verify_or_raise() -> None:
    assert not Passwords(CHEAP_ARGON2).verify("not-a-hash", "anything at all")


def test_changed_parameters_ask_for_a_rehash() -> None:
    old = Passwords(CHEAP_ARGON2).hash("a long password!")
    stronger = Passwords(Argon2Parameters(time_cost=2, memory_cost_kib=16, parallelism=1))

    assert stronger.needs_rehash(old)
    assert not stronger.needs_rehash(stronger.hash("a long password!"))


def test_production_defaults_are_not_weakened() -> None:
    assert Argon2Parameters() == Argon2Parameters(time_cost=3, memory_cost_kib=65536, parallelism=4)


def test_password_length_rules() -> None:
    assert password_problems("x" * (MIN_PASSWORD_LENGTH - 1))
    assert password_problems("x" * MIN_PASSWORD_LENGTH) == []
    assert password_problems("x" * 2000)
