"""Rate limits, part of the settings: failed logins (api.md, Accounts) and name searches. One
mechanism counts them all: ``rfl.accounts.throttle``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Limit:
    """At most ``max_hits`` within ``window``."""

    max_hits: int
    window: timedelta


@dataclass(frozen=True)
class Bucket:
    """A kind of hit and its limit (``name`` is stored with each hit)."""

    name: str
    limit: Limit


@dataclass(frozen=True)
class LoginThrottle:
    """Limits on failed logins within a sliding window (api.md, Accounts)."""

    window: timedelta = timedelta(minutes=15)
    max_failures_per_email: int = 5
    max_failures_per_client: int = 20
    # Each recorded failure adds this much delay to the next failed answer, up to ``max_delay_seconds``.
    delay_step_seconds: float = 0.25
    max_delay_seconds: float = 2.0

    @property
    def per_email(self) -> Bucket:
        return Bucket("login_email", Limit(self.max_failures_per_email, self.window))

    @property
    def per_client(self) -> Bucket:
        return Bucket("login_client", Limit(self.max_failures_per_client, self.window))


@dataclass(frozen=True)
class SearchLimits:
    """How many name searches one user, and one tracing request, may make (each within its window).

    Searches on behalf of a tracing request reach other societies' sightings: the per-request limit
    keeps that purpose narrow, the per-user limit stops one officer from going through many requests.
    """

    per_user: Limit = Limit(60, timedelta(hours=1))
    per_request: Limit = Limit(10, timedelta(hours=24))

    @property
    def user_bucket(self) -> Bucket:
        return Bucket("search_user", self.per_user)

    @property
    def request_bucket(self) -> Bucket:
        return Bucket("search_request", self.per_request)
