"""One mechanism for every rate limit (failed logins, name searches): hits counted in the database.

A limit counts *hits* of one kind (a ``Bucket`` of ``rfl.accounts.limits``) under one key within a
sliding window. Hits live in the ``throttle_hits`` table, so every worker of every machine counts the
same hits; keys are keyed hashes, so the table says nothing about who logged in from where or searched
for whom. Checking a limit and recording the hit happen under a per-key lock (a PostgreSQL transaction
advisory lock; SQLite serialises writers anyway), so concurrent attempts can never exceed a limit.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
        every hit in ``session``'s transaction. Counting every key is one statement, recording one
        insert and clearing expired hits one delete."""
        self.lock(session, hits)
        tallies = _tallies(session, hits, now=now)
        longest = max(
            (_wait(hit, tally, now=now) for hit, tally in zip(hits, tallies, strict=True)), default=0
        )
        if longest > 0:
            raise TooManyAttempts("Too many attempts; try again later.", retry_after_seconds=longest)
        # Inserted without the ORM: every search records its hits, and objects cost more than the insert.
        ids = [uuid.uuid4() for _ in hits]
        rows = [
            {"id": hit_id, "bucket": hit.bucket.name, "key": hit.key, "at": now}
            for hit_id, hit in zip(ids, hits, strict=True)
        ]
        session.connection().execute(sa.insert(ThrottleHit), rows)
        expired: dict[str, Any] = {}
        for position, hit in enumerate(hits):
            expired |= {
                f"bucket_{position}": hit.bucket.name,
                f"until_{position}": now - hit.bucket.limit.window,
            }
        session.execute(_expired_statement(len(hits)), expired)
        return Recorded(earlier=[tally.count for tally in tallies], ids=ids)

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


@dataclass(frozen=True)
class Tally:
    """A key's hits within its limit's window: how many, and when the oldest of the newest
    ``max_hits`` was (None while fewer than ``max_hits`` are counted)."""

    count: int
    oldest_counted: datetime | None


def _tallies(session: Session, hits: Sequence[Hit], *, now: datetime) -> list[Tally]:
    """Each hit's ``Tally``, in the order of ``hits``, in one statement."""
    if not hits:
        return []
    parameters: dict[str, Any] = {}
    for position, hit in enumerate(hits):
        parameters |= {
            f"bucket_{position}": hit.bucket.name,
            f"key_{position}": hit.key,
            f"since_{position}": now - hit.bucket.limit.window,
            f"skip_{position}": hit.bucket.limit.max_hits - 1,
        }
    by_position = {
        row.position: Tally(row.earlier, row.oldest_counted)
        for row in session.execute(_tally_statement(len(hits)), parameters)
    }
    return [by_position[position] for position in range(len(hits))]


# The throttle's statements are built once for each number of keys, their values given as parameters:
# every search is throttled, and building the statements anew was a third of the throttle's CPU.


@functools.cache
def _tally_statement(keys: int) -> sa.CompoundSelect[Any]:
    """The tallies of ``keys`` keys (parameters ``bucket_n``, ``key_n``, ``since_n``, ``skip_n``
    for the n-th): how many hits within the window, and when the newest ``skip_n + 1``-th was."""
    parts = []
    for position in range(keys):
        in_window = sa.and_(
            ThrottleHit.bucket == sa.bindparam(f"bucket_{position}"),
            ThrottleHit.key == sa.bindparam(f"key_{position}"),
            ThrottleHit.at > sa.bindparam(f"since_{position}"),
        )
        oldest_counted = (
            sa.select(ThrottleHit.at)
            .where(in_window)
            .order_by(ThrottleHit.at.desc())
            .offset(sa.bindparam(f"skip_{position}", type_=sa.Integer))
            .limit(1)
            .scalar_subquery()
        )
        parts.append(
            sa.select(
                sa.literal(position).label("position"),
                sa.func.count().label("earlier"),
                oldest_counted.label("oldest_counted"),
            )
            .select_from(ThrottleHit)
            .where(in_window)
        )
    return sa.union_all(*parts)


@functools.cache
def _expired_statement(buckets: int) -> sa.Delete:
    """Removing the hits of ``buckets`` buckets (parameters ``bucket_n``, ``until_n``) that are past
    their windows."""
    return sa.delete(ThrottleHit).where(
        sa.or_(
            *(
                sa.and_(
                    ThrottleHit.bucket == sa.bindparam(f"bucket_{position}"),
                    ThrottleHit.at <= sa.bindparam(f"until_{position}"),
                )
                for position in range(buckets)
            )
        )
    )


def _wait(hit: Hit, tally: Tally, *, now: datetime) -> int:
    """Seconds until fewer than the limit's hits remain in its window (0 when not limited)."""
    if tally.count < hit.bucket.limit.max_hits or tally.oldest_counted is None:
        return 0
    return max(1, math.ceil((tally.oldest_counted + hit.bucket.limit.window - now).total_seconds()))


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
