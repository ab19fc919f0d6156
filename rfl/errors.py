"""Domain errors of the application. ``rfl.http.errors`` maps each to one HTTP answer.

Messages are written for the caller and must never contain personal data: they name fields and rules,
never values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class RflError(Exception):
    """Base class of every error the application raises on purpose."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


class ConfigurationError(RflError):
    """The settings are incomplete or unsafe; the application refuses to start."""


class NotFound(RflError):
    """The object does not exist, or the caller may not know that it exists."""


class AuthenticationRequired(RflError):
    """No valid credentials were presented."""


class PermissionDenied(RflError):
    """The caller is known but may not do this."""


class Conflict(RflError):
    """The request conflicts with the current state (e.g. a duplicate unique value).

    ``current`` is the state the caller lost to (e.g. a match decided by another officer meanwhile):
    ids and statuses only, returned with the 409 so the caller can carry on without another read.
    """

    def __init__(self, detail: str = "", *, current: Mapping[str, object] | None = None) -> None:
        super().__init__(detail)
        self.current = dict(current) if current is not None else None


class PreconditionRequired(RflError):
    """A conditional header (``If-Match``) is required and missing."""


class PreconditionFailed(RflError):
    """The object changed since the caller read it."""


class TooManyAttempts(RflError):
    """Refused for a while after too many failures."""

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class ValidationFailed(RflError):
    """The input is well-formed but not acceptable; ``errors`` maps field names to messages."""

    def __init__(self, errors: Mapping[str, Sequence[str] | Mapping[str, object]], detail: str = "") -> None:
        super().__init__(detail or "The request contains invalid fields.")
        self.errors = dict(errors)
