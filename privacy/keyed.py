"""Keyed hashes of values the application must recognise but never store: throttled emails and client
addresses, idempotency keys, request fingerprints.

HMAC-SHA256 under an application secret, domain-separated by a purpose label, over length-prefixed
parts (so no two choices of parts hash the same input). Without the secret a stored hash tells nothing,
not even whether two installations saw the same value.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac

from privacy._encoding import lp

KEYED_HASH_BYTES = 32


def keyed_hash(secret: bytes, purpose: str, *parts: bytes | str) -> bytes:
    """The 32-byte keyed hash of ``parts`` for ``purpose`` (e.g. ``"login-email"``)."""
    if not secret:
        raise ValueError("a keyed hash needs a secret")
    if not purpose:
        raise ValueError("a keyed hash needs a purpose")
    encoded = [part.encode("utf-8") if isinstance(part, str) else part for part in parts]
    mac = hmac.HMAC(secret, hashes.SHA256())
    mac.update(lp(purpose.encode("utf-8"), *encoded))
    return mac.finalize()
