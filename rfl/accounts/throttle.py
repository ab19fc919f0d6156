"""One mechanism for every rate limit (failed logins, name searches): hits counted in the database.

A limit counts *hits* of one kind (a ``Bucket`` of ``rfl.accounts.limits``) under one key within a
sliding window. Hits live in the ``throttle_hits`` table, so every worker of every machine counts the
same hits; keys are keyed hashes, so the table says nothing about who logged in from where or searched
for whom. Checking a limit and recording the hit happen under a per-key lock (a PostgreSQL transaction
advisory lock; SQLite serialises writers anyway), so concurrent attempts can never exceed a limit.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy import keyed_hash
from rfl.accounts.limits import Bucket, SearchLimits
from rfl.accounts.models import ThrottleHit
from rfl.errors import TooManyAttempts


@dataclass(frozen=True)
class Hit:
    """A hit to record in ``bucket`` under ``key`` (a keyed hash)."""

    bucket: Bucket
    key: bytes


@dataclass(frozen=True)
class Recorded:
    """What ``Throttle.hit`` recorded: how many hits each key had before, and the new hits' ids."""

    earlier: list[int]
    ids: list[uuid.UUID]


class Throttle:
    """Counts hits against limits in the ``throttle_hits`` table (one mechanism for every limit)."""

    def __init__(self, *, secret_key: str) -> None:
        self._secret_key = secret_key.encode()

    def key(self, purpose: str, value: str) -> bytes:
        """The stored key of ``value`` (an email, an address, an id): a keyed hash, never the value."""
        return keyed_hash(self._secret_key, purpose, value)

    def hit(self, session: Session, hits: Sequence[Hit], *, now: datetime) -> Recorded:
        """Refuse (TooManyAttempts, with the seconds to wait) if any hit's limit is reached, else record
        every hit in ``session``'s transaction."""
        self.lock(session, hits)
        self.refuse_if_limited(session, hits, now=now)
        earlier = [self.count(session, hit, now=now) for hit in hits]
        rows = []
        for hit in hits:
            rows.append(ThrottleHit(id=uuid.uuid4(), bucket=hit.bucket.name, key=hit.key, at=now))
            session.add(rows[-1])
            session.execute(
                sa.delete(ThrottleHit).where(
                    ThrottleHit.bucket == hit.bucket.name, ThrottleHit.at <= now - hit.bucket.limit.window
                )
            )
        session.flush()
        return Recorded(earlier=earlier, ids=[row.id for row in rows])

    @staticmethod
    def forget(session: Session, recorded: Recorded) -> None:
        """Remove the hits ``hit`` recorded (a reservation that turned out not to count)."""
        session.execute(sa.delete(ThrottleHit).where(ThrottleHit.id.in_(recorded.ids)))

    def clear(self, session: Session, hit: Hit) -> None:
        """Forget the hits of one key (a successful login clears its email's failures)."""
        session.execute(
            sa.delete(ThrottleHit).where(ThrottleHit.bucket == hit.bucket.name, ThrottleHit.key == hit.key)
        )

    @staticmethod
    def lock(session: Session, hits: Sequence[Hit]) -> None:
        """Serialise checkers of the same keys until the transaction ends (PostgreSQL; SQLite's
        writers are serialised already). Locks are taken in one order, so two checkers never deadlock."""
        if session.get_bind().dialect.name != "postgresql":
            return
        for lock_key in sorted({int.from_bytes(hit.key[:8], "big", signed=True) for hit in hits}):
            session.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_key)))

    def refuse_if_limited(self, session: Session, hits: Sequence[Hit], *, now: datetime) -> None:
        longest = max((self._wait(session, hit, now=now) for hit in hits), default=0)
        if longest > 0:
            raise TooManyAttempts("Too many attempts; try again later.", retry_after_seconds=longest)

    @staticmethod
    def count(session: Session, hit: Hit, *, now: datetime) -> int:
        return (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(ThrottleHit)
                .where(
                    ThrottleHit.bucket == hit.bucket.name,
                    ThrottleHit.key == hit.key,
                    ThrottleHit.at > now - hit.bucket.limit.window,
                )
            )
            or 0
        )

    @staticmethod
    def _wait(session: Session, hit: Hit, *, now: datetime) -> int:
        """Seconds until fewer than the limit's hits remain in its window (0 when not limited)."""
        limit = hit.bucket.limit
        times = list(
            session.scalars(
                sa.select(ThrottleHit.at)
                .where(
                    ThrottleHit.bucket == hit.bucket.name,
                    ThrottleHit.key == hit.key,
                    ThrottleHit.at > now - limit.window,
                )
                .order_by(ThrottleHit.at.desc())
                .limit(limit.max_hits)
            )
        )
        if len(times) < limit.max_hits:
            return 0
        return max(1, math.ceil((times[-1] + limit.window - now).total_seconds()))


class SearchBudget:
    """The search limits (``rfl.accounts.limits.SearchLimits``) counted by the one throttle: each
    search is a hit of its user and, when made on behalf of a tracing request, of that request."""

    def __init__(self, throttle: Throttle, limits: SearchLimits) -> None:
        self._throttle = throttle
        self._limits = limits

    def spend(
        self, session: Session, user_id: uuid.UUID, tracing_request_id: uuid.UUID | None, *, now: datetime
    ) -> None:
        hits = [Hit(self._limits.user_bucket, self._throttle.key("search-user", str(user_id)))]
        if tracing_request_id is not None:
            hits.append(
                Hit(
                    self._limits.request_bucket, self._throttle.key("search-request", str(tracing_request_id))
                )
            )
        self._throttle.hit(session, hits, now=now)
