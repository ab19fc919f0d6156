"""Organisations of the Family Links Network, their users, API tokens and rate-limit hits."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rfl.db import Base, CreatedAt, IdMixin, UpdatedAt, UTCDateTime, enum_column


class SocietyType(StrEnum):
    NATIONAL_SOCIETY = "national_society"
    ICRC_DELEGATION = "icrc_delegation"
    CENTRAL_TRACING_AGENCY = "central_tracing_agency"


class Role(StrEnum):
    CASEWORKER = "caseworker"
    TRACING_OFFICER = "tracing_officer"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Society(IdMixin, Base):
    """An organisation of the Family Links Network ("society" for short)."""

    __tablename__ = "societies"

    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    type: Mapped[SocietyType] = mapped_column(enum_column(SocietyType, "society_type"))
    name: Mapped[str] = mapped_column(sa.String(200))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    created_at: Mapped[CreatedAt]

    users: Mapped[list[User]] = relationship(back_populates="society")


class User(IdMixin, Base):
    """A person's account in one society. An email is unique within its society only: an admin who
    adds someone learns nothing of other societies' users, and the same person may hold an account in
    each of two societies (logging in with ``society`` then says which)."""

    __tablename__ = "users"
    __table_args__ = (sa.UniqueConstraint("society_id", "email"),)

    society_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("societies.id"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Optimistic concurrency: an UPDATE names the version it read, so a stale write fails (412).
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    society: Mapped[Society] = relationship(back_populates="users", lazy="joined")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy's declarative protocol)


class ApiToken(IdMixin, Base):
    """A bearer token; only the SHA-256 of the token is stored, so a database dump grants no access."""

    __tablename__ = "api_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    created_at: Mapped[CreatedAt]
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class ThrottleHit(IdMixin, Base):
    """One hit counted against a rate limit (a failed login, a search), kept for the limit's window.

    ``bucket`` names the limit; ``key`` is a keyed hash of what is limited (an email, a client address,
    a user or tracing-request id): enough to count hits, useless for learning who did what.
    """

    __tablename__ = "throttle_hits"
    __table_args__ = (sa.Index("ix_throttle_hits_bucket_key_at", "bucket", "key", "at"),)

    bucket: Mapped[str] = mapped_column(sa.String(32))
    key: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
