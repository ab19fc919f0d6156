"""Appending to, checkpointing and verifying the audit log.

Order: entries are appended inside the transaction of the action they record, under a lock that
serialises appenders (a PostgreSQL transaction-level advisory lock; SQLite transactions are already
serialised, see ``rfl.db``). The next index is read under that lock, so concurrent requests can never
give two entries the same index or leave a gap: the tree never forks, and an entry is in the tree
exactly when its action committed. The primary key on ``seq`` backs this up.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy import (
    Checkpoint,
    CheckpointError,
    CheckpointSigner,
    CheckpointVerifier,
    CompactRange,
    JsonValue,
    ProofError,
    canonical_entry,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    sign_checkpoint,
    tree_root,
    verify_checkpoint,
    verify_consistency,
)
from rfl.audit.entries import Action, AuditEntry, AuditSink
from rfl.audit.models import AuditCheckpoint, AuditEvent
from rfl.errors import ValidationFailed
from rfl.identity import Actor
from rfl.pagination import Page, paginate

# An arbitrary constant naming the audit log's advisory lock on PostgreSQL.
AUDIT_LOCK_KEY = 0x52464C_4155_4454
# A checkpoint is signed automatically whenever the log crosses a multiple of this size.
CHECKPOINT_INTERVAL = 256


def canonical_form(event: AuditEvent) -> bytes:
    """The bytes whose leaf hash enters the tree: every column but the hash itself."""
    return canonical_entry(entry_document(event))


def entry_document(event: AuditEvent) -> dict[str, JsonValue]:
    """An entry as the document its canonical form encodes (exports carry it for offline checks)."""
    return {
        "seq": event.seq,
        "id": str(event.id),
        "occurred_at": event.occurred_at.isoformat(),
        "actor_user_id": _text(event.actor_user_id),
        "actor_society_id": _text(event.actor_society_id),
        "owner_society_id": _text(event.owner_society_id),
        "action": event.action,
        "outcome": event.outcome,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "fields": list(event.fields),
        "request_id": event.request_id,
    }


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def append(
    session: Session,
    entries: Sequence[AuditEntry],
    *,
    now: datetime,
    signer: CheckpointSigner | None = None,
    origin: str = "",
) -> list[AuditEvent]:
    """Append ``entries`` in order within the session's transaction (they commit with it)."""
    if not entries:
        return []
    _lock_log(session)
    next_seq = _log_size(session)
    events = []
    for offset, entry in enumerate(entries):
        event = AuditEvent(
            seq=next_seq + offset,
            id=uuid.uuid4(),
            occurred_at=now,
            actor_user_id=entry.actor.user_id if entry.actor else None,
            actor_society_id=entry.actor.society_id if entry.actor else None,
            owner_society_id=entry.owner_society_id,
            action=entry.action.value,
            outcome=entry.outcome.value,
            object_type=entry.object_type,
            object_id=entry.object_id,
            fields=sorted(entry.fields),
            request_id=entry.request_id,
        )
        event.leaf_hash = leaf_hash(canonical_form(event))
        session.add(event)
        events.append(event)
    session.flush()
    new_size = next_seq + len(entries)
    if signer is not None and next_seq // CHECKPOINT_INTERVAL != new_size // CHECKPOINT_INTERVAL:
        sign_current_checkpoint(session, signer, origin=origin, now=now)
    return events


def _lock_log(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(AUDIT_LOCK_KEY)))


def _log_size(session: Session) -> int:
    highest = session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
    return 0 if highest is None else highest + 1


def leaf_hashes(session: Session) -> list[bytes]:
    return list(session.scalars(sa.select(AuditEvent.leaf_hash).order_by(AuditEvent.seq)))


def sign_current_checkpoint(
    session: Session, signer: CheckpointSigner, *, origin: str, now: datetime
) -> AuditCheckpoint:
    """Sign the current tree head, unless the latest checkpoint already covers it.

    Starts from the latest checkpoint's compact range, so only entries added since are hashed.
    """
    _lock_log(session)
    size = _log_size(session)
    latest = latest_checkpoint(session)
    if latest is not None and latest.tree_size == size:
        return latest
    compact = _resume_from(latest)
    compact.extend(
        session.scalars(
            sa.select(AuditEvent.leaf_hash).where(AuditEvent.seq >= compact.size).order_by(AuditEvent.seq)
        )
    )
    root = compact.root()
    note = sign_checkpoint(Checkpoint(origin=origin, size=compact.size, root=root), signer)
    checkpoint = AuditCheckpoint(
        tree_size=compact.size,
        root_hash=root,
        note=note,
        created_at=now,
        compact_range=b"".join(compact.hashes),
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


def _resume_from(checkpoint: AuditCheckpoint | None) -> CompactRange:
    """The checkpoint's compact range if it is intact (it reproduces the signed root), else an empty one."""
    if checkpoint is None or not checkpoint.compact_range:
        return CompactRange()
    blob = checkpoint.compact_range
    try:
        compact = CompactRange(checkpoint.tree_size, [blob[i : i + 32] for i in range(0, len(blob), 32)])
    except ProofError:
        return CompactRange()
    return compact if compact.root() == checkpoint.root_hash else CompactRange()


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalar(sa.select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1))


# --- proofs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InclusionProof:
    seq: int
    leaf_hash: bytes
    proof: list[bytes]


def inclusion_proofs_for_object(session: Session, object_id: str) -> tuple[int, bytes, list[InclusionProof]]:
    """(tree size, root, an inclusion proof for each entry about ``object_id``)."""
    hashes = leaf_hashes(session)
    seqs = session.scalars(
        sa.select(AuditEvent.seq).where(AuditEvent.object_id == object_id).order_by(AuditEvent.seq)
    )
    proofs = [InclusionProof(seq, hashes[seq], inclusion_proof(hashes, seq)) for seq in seqs]
    return len(hashes), tree_root(hashes), proofs


def consistency_from(session: Session, from_size: int) -> tuple[int, bytes, bytes, list[bytes]]:
    """(current size, root at ``from_size``, current root, consistency proof)."""
    hashes = leaf_hashes(session)
    if not 0 < from_size <= len(hashes):
        raise ValueError("from_size must be between 1 and the current tree size")
    return len(hashes), tree_root(hashes, from_size), tree_root(hashes), consistency_proof(hashes, from_size)


# --- verification ---------------------------------------------------------------------------------


@dataclass
class Verification:
    ok: bool
    size: int
    root: bytes
    problems: list[str]
    checkpoint: AuditCheckpoint | None


def verify_log(
    session: Session, verifier: CheckpointVerifier, *, origin: str, against: str | None = None
) -> Verification:
    """Recompute every leaf and the root; check every stored checkpoint, and ``against`` if given.

    ``problems`` names the first bad entry where one can be named, in the order checks found them.
    """
    events = list(session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)))
    problems = _entry_problems(events)
    hashes = [leaf_hash(canonical_form(event)) for event in events]
    checkpoints = list(session.scalars(sa.select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size)))
    for stored in checkpoints:
        problems.extend(_checkpoint_problems(stored.note, verifier, origin, hashes, "stored checkpoint"))
    if against is not None:
        problems.extend(_checkpoint_problems(against, verifier, origin, hashes, "exported checkpoint"))
    return Verification(
        ok=not problems,
        size=len(hashes),
        root=tree_root(hashes),
        problems=problems,
        checkpoint=checkpoints[-1] if checkpoints else None,
    )


def _entry_problems(events: Sequence[AuditEvent]) -> list[str]:
    for index, event in enumerate(events):
        if event.seq != index:
            return [f"entry {index}: missing (the next present is {event.seq}); entries removed or reordered"]
        if leaf_hash(canonical_form(event)) != event.leaf_hash:
            return [f"entry {index} (id {event.id}): altered; its content no longer matches its leaf hash"]
    return []


def _checkpoint_problems(
    note: str, verifier: CheckpointVerifier, origin: str, hashes: Sequence[bytes], label: str
) -> list[str]:
    try:
        checkpoint = verify_checkpoint(note, verifier, origin=origin)
    except CheckpointError:
        return [f"{label}: signature or format invalid"]
    if checkpoint.size > len(hashes):
        return [f"{label} of size {checkpoint.size}: the log has only {len(hashes)} entries; entries removed"]
    if checkpoint.size == 0:
        return []
    try:
        proof = consistency_proof(hashes, checkpoint.size)
        verify_consistency(checkpoint.size, len(hashes), proof, checkpoint.root, tree_root(hashes))
    except ProofError:
        # Only the checkpoint's root is known, so the damage is located to its range, not one entry.
        return [
            f"{label} of size {checkpoint.size}: the log does not extend it; entries before index "
            f"{checkpoint.size} were altered, inserted, removed or reordered"
        ]
    return []


# --- what auditors and admins ask of the log (each request is itself logged) -------------------------


@dataclass(frozen=True)
class EventQuery:
    actor_user_id: uuid.UUID | None = None
    action: str | None = None
    object_id: str | None = None
    since: datetime | None = None


def _logged(audit: AuditSink, actor: Actor, action: Action, object_id: str | None = None) -> None:
    audit(AuditEntry(action, actor=actor, object_type="audit_log", object_id=object_id))


def read_events(
    session: Session, actor: Actor, query: EventQuery, *, limit: int, cursor: str | None, audit: AuditSink
) -> Page[AuditEvent]:
    """Audit events of the actor's society, oldest first.

    A society sees the entries about its own objects (whoever acted), and the entries about no object
    that its own users caused. Entries about another society's objects stay with that society: even
    that a record exists, or that a restriction hid it, is that society's to know.
    """
    society = actor.society_id
    statement = sa.select(AuditEvent).where(
        sa.or_(
            AuditEvent.owner_society_id == society,
            sa.and_(AuditEvent.owner_society_id.is_(None), AuditEvent.actor_society_id == society),
        )
    )
    if query.actor_user_id is not None:
        statement = statement.where(AuditEvent.actor_user_id == query.actor_user_id)
    if query.action is not None:
        statement = statement.where(AuditEvent.action == query.action)
    if query.object_id is not None:
        statement = statement.where(AuditEvent.object_id == query.object_id)
    if query.since is not None:
        statement = statement.where(AuditEvent.occurred_at >= query.since)
    page = paginate(session, statement, order_by=(AuditEvent.seq,), limit=limit, cursor=cursor)
    _logged(audit, actor, Action.AUDIT_READ)
    return page


def checkpoint_for(
    session: Session, actor: Actor, signer: CheckpointSigner, *, origin: str, now: datetime, audit: AuditSink
) -> AuditCheckpoint:
    """The latest signed checkpoint, signed now if the log grew since the last one."""
    signed = sign_current_checkpoint(session, signer, origin=origin, now=now)
    _logged(audit, actor, Action.AUDIT_CHECKPOINT)
    return signed


def proofs_for(
    session: Session, actor: Actor, object_id: str, *, audit: AuditSink
) -> tuple[int, bytes, list[InclusionProof]]:
    """Inclusion proofs of every entry about ``object_id``; only an id is ever written to the log."""
    result = inclusion_proofs_for_object(session, object_id)
    _logged(audit, actor, Action.AUDIT_PROOF, _as_id(object_id))
    return result


def consistency_for(
    session: Session, actor: Actor, from_size: int, *, audit: AuditSink
) -> tuple[int, bytes, bytes, list[bytes]]:
    try:
        result = consistency_from(session, from_size)
    except ValueError:
        raise ValidationFailed({"from_size": ["Must be between 1 and the current tree size."]}) from None
    _logged(audit, actor, Action.AUDIT_CONSISTENCY)
    return result


def verification_for(
    session: Session,
    actor: Actor | None,
    verifier: CheckpointVerifier,
    *,
    origin: str,
    against: str | None = None,
    audit: AuditSink,
) -> Verification:
    result = verify_log(session, verifier, origin=origin, against=against)
    audit(AuditEntry(Action.AUDIT_VERIFY, actor=actor, object_type="audit_log"))
    return result


def _as_id(text: str) -> str | None:
    """The audit log is never erased, so no free text typed by a user may enter it: ids only."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None
