"""rfl: the Restoring Family Links case-management backend."""

from rfl.app import create_app

__all__ = ["create_app"]
