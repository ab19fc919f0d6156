"""The application's clock (injectable in ``create_app`` so tests can move time)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app


def now() -> datetime:
    """The current UTC time by the running application's clock."""
    clock_now: datetime = current_app.extensions["rfl.clock"]()
    return clock_now
