"""Limits on failed logins (api.md, Accounts), part of the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class LoginThrottle:
    """Limits on failed logins within a sliding window (api.md, Accounts)."""

    window: timedelta = timedelta(minutes=15)
    max_failures_per_email: int = 5
    max_failures_per_client: int = 20
    # Each recorded failure adds this much delay to the next failed answer, up to ``max_delay_seconds``.
    delay_step_seconds: float = 0.25
    max_delay_seconds: float = 2.0
