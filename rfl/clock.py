"""The application's clock (injectable in ``create_app`` so tests can move time)."""

from __future__ import annotations

from datetime import datetime

from rfl.extensions import app_services


def now() -> datetime:
    """The current UTC time by the running application's clock."""
    return app_services().clock()
