"""The application's services, looked up by type instead of by string keys (Warehouse's
``request.find_service``): ``app_services().passwords``, ``app_services().crypto(session)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask, current_app
from sqlalchemy.orm import Session

from privacy import CheckpointSigner, KeyCache
from rfl.accounts.passwords import Passwords
from rfl.accounts.services import Authenticator
from rfl.accounts.throttle import SearchBudget, Throttle
from rfl.crypto import Crypto, SettledPlans
from rfl.keys import ReloadingKeyProvider
from rfl.settings import Settings

_EXTENSION_KEY = "rfl"


@dataclass(frozen=True)
class AppServices:
    settings: Settings
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    keys: ReloadingKeyProvider
    key_cache: KeyCache
    audit_signer: CheckpointSigner
    passwords: Passwords
    authenticator: Authenticator
    throttle: Throttle
    settled_plans: SettledPlans = field(default_factory=dict)  # see rfl.crypto.SettledPlans

    @property
    def search_budget(self) -> SearchBudget:
        """The searches users and tracing requests may still make (counted by ``throttle``)."""
        return SearchBudget(self.throttle, self.settings.search_limits)

    def crypto(self, session: Session) -> Crypto:
        """The crypto context of ``session``: data keys commit and roll back with its transaction."""
        return Crypto(
            self.keys,
            self.key_cache,
            session,
            self.clock,
            planning=self.settings.index_planning,
            settled=self.settled_plans,
        )

    def install(self, app: Flask) -> None:
        app.extensions[_EXTENSION_KEY] = self


def app_services(app: Flask | None = None) -> AppServices:
    """The services of ``app`` (the current application by default)."""
    services: AppServices = (app or current_app).extensions[_EXTENSION_KEY]
    return services
