"""Inclusion and consistency proofs against one tree head, without reading every leaf.

A proof is only as good as the root it leads to, so proofs are made against a head the service has just
signed (the audit endpoints and exports sign one and return it, so a client checks the proof against a
root it can verify with the public key), or against the tree as it is now, computed here from the newest
checkpoint that proves itself and the entries since (``TreeProofs.now``, for reading requests). Nodes of
the tree come from the compact ranges of stored checkpoints (one every 256 entries or so), each used only
once its row proves itself against its signature, and from blocks of at most ``LEAF_BLOCK`` stored leaves:
a proof reads O(log n) rows instead of all n. A wrong stored hash can only make a proof fail the client's
check, never pass it; and each proven leaf hash is recomputed from the entry's content, so an altered
entry fails too.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy import (
    CheckpointVerifier,
    CompactRange,
    NodeRoots,
    ProofError,
    consistency_proof_from,
    inclusion_proof_from,
    leaf_hash,
)
from rfl.audit import checkpoints
from rfl.audit.log import (
    about_object,
    canonical_form,
    extend_with_stored_leaves,
    log_size,
    visible_to,
)
from rfl.audit.models import AuditCheckpoint, AuditEvent
from rfl.errors import Conflict

log = logging.getLogger(__name__)

# Subtrees of at most this many leaves that no compact range holds are hashed from their stored leaves.
LEAF_BLOCK = 256
# Stored checkpoints are looked up for subtrees at least this wide (smaller ones are cheaper to hash).
ROW_LOOKUP_MIN_WIDTH = 128


@dataclass(frozen=True)
class InclusionProof:
    seq: int
    leaf_hash: bytes
    proof: list[bytes]


@dataclass(frozen=True)
class ObjectOwner:
    """What the log knows of an object id from its entries: whether it names it, its type and owner."""

    known: bool
    society_id: uuid.UUID | None = None
    object_type: str | None = None


class TreeProofs:
    """Proofs against the tree whose right edge is ``head`` (trusted: signed or computed by the caller)."""

    def __init__(
        self, session: Session, verifier: CheckpointVerifier, origin: str, head: CompactRange
    ) -> None:
        self._session = session
        self._head = head
        self._roots = _node_roots(session, verifier, origin, head)

    @classmethod
    def now(cls, session: Session, verifier: CheckpointVerifier, origin: str) -> TreeProofs:
        """Against the tree as it is now: the newest trusted checkpoint extended by the entries since.
        Reads only (the root is computed here, not signed)."""
        compact, _ = checkpoints.trusted_resume_point(session, verifier, origin, log_size(session))
        extend_with_stored_leaves(session, compact)
        return cls(session, verifier, origin, compact)

    @property
    def size(self) -> int:
        return self._head.size

    @property
    def root(self) -> bytes:
        return self._head.root()

    def for_events(self, events: Iterable[AuditEvent]) -> list[InclusionProof]:
        """An inclusion proof of each entry (of the tree), proving the leaf hash of its content."""
        with _missing_entries_are_a_conflict():
            return [
                InclusionProof(
                    event.seq,
                    leaf_hash(canonical_form(event)),
                    inclusion_proof_from(self._roots, event.seq, self.size),
                )
                for event in events
            ]

    def for_object(self, object_id: str, *, society_id: uuid.UUID | None = None) -> list[InclusionProof]:
        """Proofs of the entries about ``object_id`` in the tree; with ``society_id``, only those that
        society sees in its events listing (another society's object then has none)."""
        statement = sa.select(AuditEvent).where(about_object(object_id), AuditEvent.seq < self.size)
        if society_id is not None:
            statement = statement.where(visible_to(society_id))
        return self.for_events(self._session.scalars(statement.order_by(AuditEvent.seq)))

    def consistency(self, from_size: int) -> tuple[bytes, list[bytes]]:
        """(root of the first ``from_size`` entries, proof that that tree is a prefix of this one).

        Raises ``ValueError`` unless ``from_size`` is between 1 and this tree's size.
        """
        if not 0 < from_size <= self.size:
            raise ValueError("from_size must be between 1 and the tree size")
        with _missing_entries_are_a_conflict():
            return self._roots(0, from_size), consistency_proof_from(self._roots, from_size, self.size)


def object_owner(session: Session, object_id: str) -> ObjectOwner:
    """The object's owning society and type, from the newest entry about it that names an owner."""
    newest = sa.select(AuditEvent.owner_society_id, AuditEvent.object_type).where(
        AuditEvent.object_id == object_id
    )
    owned = session.execute(
        newest.where(AuditEvent.owner_society_id.is_not(None)).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    row = owned or session.execute(newest.order_by(AuditEvent.seq.desc()).limit(1)).first()
    if row is None:
        return ObjectOwner(known=False)
    return ObjectOwner(known=True, society_id=row.owner_society_id, object_type=row.object_type)


@contextmanager
def _missing_entries_are_a_conflict() -> Iterator[None]:
    try:
        yield
    except ProofError:
        log.warning("audit_log_entries_missing")
        raise Conflict("The audit log is damaged (entries are missing); run `rfl audit verify`.") from None


def _node_roots(session: Session, verifier: CheckpointVerifier, origin: str, head: CompactRange) -> NodeRoots:
    trusted: dict[int, CompactRange | None] = {}

    def known(begin: int, width: int) -> bytes | None:
        if begin % (2 * width):
            return None  # a right child: no compact range holds it
        in_head = head.subtree(begin, width)
        if in_head is not None or width < ROW_LOOKUP_MIN_WIDTH:
            return in_head  # a small subtree costs one read of its leaves, no dearer than a row
        row = session.scalar(
            sa.select(AuditCheckpoint)
            .where(
                AuditCheckpoint.tree_size >= begin + width,
                AuditCheckpoint.tree_size < min(begin + 2 * width, head.size),
            )
            .order_by(AuditCheckpoint.tree_size)
            .limit(1)
        )
        if row is None:
            return None
        if row.tree_size not in trusted:
            trusted[row.tree_size] = _trusted_or_none(row, verifier, origin)
        compact = trusted[row.tree_size]
        return None if compact is None else compact.subtree(begin, width)

    def leaves(lo: int, hi: int) -> list[bytes]:
        return checkpoints.stored_leaf_hashes(session, lo, hi)

    return NodeRoots(known, leaves, leaf_block=LEAF_BLOCK)


def _trusted_or_none(row: AuditCheckpoint, verifier: CheckpointVerifier, origin: str) -> CompactRange | None:
    try:
        return checkpoints.trusted_compact_range(row, verifier, origin)
    except checkpoints.UntrustedCheckpoint as untrusted:
        checkpoints.alert_untrusted(row.tree_size, untrusted.reason)
        return None
