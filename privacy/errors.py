"""The package's errors: one base class, and one opaque error for every decryption failure."""

from __future__ import annotations


class PrivacyError(Exception):
    """Base class of every error the privacy package raises on purpose."""


class DecryptionError(PrivacyError):
    """A field or a data key could not be decrypted.

    Raised for every cause alike (wrong or unknown key, shredded subject, retired KEK, moved
    ciphertext, flipped bit, unknown format or version) so that neither the message nor the type tells
    which check failed. It never carries plaintext and is raised without a chained cause.
    """

    def __init__(self) -> None:
        super().__init__("decryption failed")


class KeyConfigurationError(PrivacyError):
    """The key material asked for does not exist or is malformed (unknown ring, bad key file)."""


class SubjectErasedError(PrivacyError):
    """The data subject's key was destroyed (crypto-shredded): nothing new may be encrypted for it."""


class KekInUseError(PrivacyError):
    """A KEK version cannot be retired: it is active, or data keys are still wrapped under it."""


class BlindIndexError(PrivacyError):
    """A value was refused for a blind index (empty, or too low in entropy to index on its own)."""


class IndexPlanningError(PrivacyError):
    """No truncation length satisfies the CipherSweet rule for the given row count."""


class ProofError(PrivacyError):
    """A Merkle inclusion or consistency proof does not verify."""


class CheckpointError(PrivacyError):
    """A checkpoint note is malformed or carries no valid signature by the expected key."""


class CanonicalEncodingError(PrivacyError):
    """A log entry holds a value that has no canonical encoding (a float, a non-string key, ...)."""
