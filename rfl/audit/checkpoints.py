"""Stored checkpoints are trusted only as far as their signature proves.

The application role can INSERT into ``audit_checkpoints``, so a row may be forged: its ``root_hash``
and ``compact_range`` columns are not signed, and its ``tree_size`` may lie ahead of the log. Before a
row's compact range is extended (to sign the next checkpoint) or used (to answer proofs), its signed
note must verify with the log's key and origin, name the row's size and root, and its compact range must
hash to that root. Resuming also checks the newest subtree of the range against the stored leaves, so
a genuine row from another history (a restored backup, say) is not extended either. A row that fails is
skipped with an alert in the log, and the service goes on from an older trusted row, or from the leaves.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from privacy import (
    Checkpoint,
    CheckpointError,
    CheckpointVerifier,
    CompactRange,
    ProofError,
    tree_root,
    verify_checkpoint,
)
from rfl.audit.models import AuditCheckpoint, AuditEvent

log = logging.getLogger(__name__)

# Rows read per query when streaming the log.
READ_BATCH = 10_000
# Resuming looks this far back for a trusted row before it rebuilds the tree from the leaves.
RESUME_SCAN = 64
RESUME_PAGE = 4
# Resuming checks the range's newest subtree against the stored leaves when it is at most this wide.
LEAF_CHECK_MAX = 4096


class UntrustedCheckpoint(Exception):
    """A stored checkpoint row that does not prove itself; ``reason`` names the check (no data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def signed_head(row: AuditCheckpoint, verifier: CheckpointVerifier, origin: str) -> Checkpoint:
    """The row's signed checkpoint, if its note verifies and agrees with the row's size and root."""
    try:
        checkpoint = verify_checkpoint(row.note, verifier, origin=origin)
    except CheckpointError:
        raise UntrustedCheckpoint("signature or format invalid") from None
    if checkpoint.size != row.tree_size:
        raise UntrustedCheckpoint(f"its signed note is for tree size {checkpoint.size}")
    if not hmac.compare_digest(checkpoint.root, row.root_hash):
        raise UntrustedCheckpoint("its root column differs from its signed root")
    return checkpoint


def trusted_compact_range(row: AuditCheckpoint, verifier: CheckpointVerifier, origin: str) -> CompactRange:
    """The row's compact range, if the row's signature proves it (see the module docstring)."""
    checkpoint = signed_head(row, verifier, origin)
    compact = parse_compact_range(row.tree_size, row.compact_range)
    if compact is None:
        raise UntrustedCheckpoint("its compact range is missing or malformed")
    if not hmac.compare_digest(compact.root(), checkpoint.root):
        raise UntrustedCheckpoint("its compact range does not hash to its signed root")
    return compact


def parse_compact_range(size: int, blob: bytes | None) -> CompactRange | None:
    if blob is None:
        return None
    try:
        return CompactRange.from_bytes(size, blob)
    except ProofError:
        return None


def trusted_resume_point(
    session: Session, verifier: CheckpointVerifier, origin: str, log_size: int
) -> tuple[CompactRange, AuditCheckpoint | None]:
    """The right edge of the tree at the newest trusted checkpoint, and that checkpoint's row.

    Rows beyond the log and rows that fail a check are skipped (with an alert); without a trusted row
    among the newest ``RESUME_SCAN``, the caller rebuilds from the leaves (an empty range, no row).
    """
    _alert_rows_beyond_the_log(session, log_size)
    checked = 0
    for row in _newest_rows(session, log_size):
        checked += 1
        try:
            compact = trusted_compact_range(row, verifier, origin)
            _check_newest_subtree(session, compact)
        except UntrustedCheckpoint as untrusted:
            alert_untrusted(row.tree_size, untrusted.reason)
            continue
        return compact, row
    if checked:
        log.warning("audit_checkpoints_untrusted_rebuilding_from_leaves", extra={"rows_checked": checked})
    return CompactRange(), None


def _newest_rows(session: Session, log_size: int) -> Iterator[AuditCheckpoint]:
    """Rows of at most ``log_size``, newest first, at most ``RESUME_SCAN``; read a few at a time, since
    the newest is nearly always the one."""
    below, remaining = log_size + 1, RESUME_SCAN
    while remaining > 0:
        page = session.scalars(
            sa.select(AuditCheckpoint)
            .where(AuditCheckpoint.tree_size < below)
            .order_by(AuditCheckpoint.tree_size.desc())
            .limit(min(RESUME_PAGE, remaining))
        ).all()
        yield from page
        if len(page) < min(RESUME_PAGE, remaining):
            return
        below, remaining = page[-1].tree_size, remaining - len(page)


def alert_untrusted(tree_size: int, reason: str) -> None:
    log.warning("audit_checkpoint_untrusted", extra={"tree_size": tree_size, "reason": reason})


def _alert_rows_beyond_the_log(session: Session, log_size: int) -> None:
    beyond = session.scalar(
        sa.select(sa.func.min(AuditCheckpoint.tree_size)).where(AuditCheckpoint.tree_size > log_size)
    )
    if beyond is not None:
        alert_untrusted(beyond, f"beyond the log of {log_size} entries")


def _check_newest_subtree(session: Session, compact: CompactRange) -> None:
    """Compare the range's last (smallest) subtree with the stored leaves it covers, when that is cheap."""
    if compact.size == 0:
        return
    width = compact.size & -compact.size
    if width > LEAF_CHECK_MAX:
        return
    leaves = stored_leaf_hashes(session, compact.size - width, compact.size)
    if len(leaves) != width or not hmac.compare_digest(tree_root(leaves), compact.hashes[-1]):
        raise UntrustedCheckpoint("its compact range does not match the stored entries")


def stored_leaf_hashes(session: Session, lo: int, hi: int) -> list[bytes]:
    """The stored leaf hashes of entries ``lo`` to ``hi - 1`` (fewer if entries are missing)."""
    return list(
        session.scalars(
            sa.select(AuditEvent.leaf_hash)
            .where(AuditEvent.seq >= lo, AuditEvent.seq < hi)
            .order_by(AuditEvent.seq)
        )
    )


def store(session: Session, row: AuditCheckpoint) -> None:
    """Insert a newly signed checkpoint; a forged row already holding its size must not stop the log.

    The note is returned to the caller either way (it is signed and valid); only storing it is skipped.
    """
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        alert_untrusted(row.tree_size, "a row already holds the size of the new checkpoint")
