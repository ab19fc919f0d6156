"""Password hashing with Argon2id (argon2-cffi), parameters from settings, rehash on login."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True)
class Argon2Parameters:
    """Defaults are argon2-cffi's, i.e. RFC 9106's second recommended profile (t=3, 64 MiB, p=4)."""

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 4


class Passwords:
    def __init__(self, parameters: Argon2Parameters) -> None:
        self._hasher = PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_cost_kib,
            parallelism=parameters.parallelism,
        )
        # Unknown emails are verified against this, so they cost as much time as a wrong password.
        self._decoy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._decoy_hash, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


def password_problems(password: str) -> list[str]:
    """Why a new password is unacceptable (empty when it is fine). Length is what matters (NIST 800-63B)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return [f"Must be at least {MIN_PASSWORD_LENGTH} characters."]
    if len(password) > MAX_PASSWORD_LENGTH:
        return [f"Must be at most {MAX_PASSWORD_LENGTH} characters."]
    return []
