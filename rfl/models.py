"""Every mapped model, imported in one place so the metadata is complete (Alembic, tests)."""

from rfl.accounts.models import ApiToken, LoginFailure, Society, User
from rfl.db import Base
from rfl.http.idempotency import IdempotencyRecord

__all__ = ["ApiToken", "Base", "IdempotencyRecord", "LoginFailure", "Society", "User"]
