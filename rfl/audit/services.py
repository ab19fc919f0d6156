"""What auditors and admins ask of the audit log; each request is itself logged.

The log's mechanics live beside: ``rfl.audit.log`` (canonical entries, ordered appends, signed tree
heads), ``rfl.audit.proofs`` and ``rfl.audit.verification``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy import CheckpointSigner, CheckpointVerifier
from rfl.audit import proofs, verification
from rfl.audit.entries import Action, AuditEntry, AuditSink, Outcome
from rfl.audit.log import SignedHead, about_object, sign_current_checkpoint, visible_to
from rfl.audit.models import AuditEvent
from rfl.audit.verification import Verification
from rfl.errors import ValidationFailed
from rfl.identity import Actor
from rfl.pagination import Page, paginate


@dataclass(frozen=True)
class EventQuery:
    actor_user_id: uuid.UUID | None = None
    action: str | None = None
    object_id: str | None = None
    since: datetime | None = None


def _logged(audit: AuditSink, actor: Actor | None, action: Action, object_id: str | None = None) -> None:
    audit(AuditEntry(action, actor=actor, object_type="audit_log", object_id=object_id))


def read_events(
    session: Session, actor: Actor, query: EventQuery, *, limit: int, cursor: str | None, audit: AuditSink
) -> Page[AuditEvent]:
    """Audit events of the actor's society, oldest first (``log.visible_to`` says which)."""
    statement = sa.select(AuditEvent).where(visible_to(actor.society_id))
    if query.actor_user_id is not None:
        statement = statement.where(AuditEvent.actor_user_id == query.actor_user_id)
    if query.action is not None:
        statement = statement.where(AuditEvent.action == query.action)
    if query.object_id is not None:
        statement = statement.where(about_object(query.object_id))
    if query.since is not None:
        statement = statement.where(AuditEvent.occurred_at >= query.since)
    page = paginate(session, statement, order_by=(AuditEvent.seq,), limit=limit, cursor=cursor)
    _logged(audit, actor, Action.AUDIT_READ)
    return page


def checkpoint_for(
    session: Session,
    actor: Actor | None,
    signer: CheckpointSigner,
    *,
    origin: str,
    now: datetime,
    audit: AuditSink,
) -> SignedHead:
    """The latest signed checkpoint, signed now if the log grew since the last one."""
    signed = sign_current_checkpoint(session, signer, origin=origin, now=now)
    _logged(audit, actor, Action.AUDIT_CHECKPOINT)
    return signed


@dataclass(frozen=True)
class InclusionProofs:
    head: SignedHead
    proofs: list[proofs.InclusionProof]


@dataclass(frozen=True)
class ConsistencyProof:
    head: SignedHead
    from_size: int
    from_root: bytes
    proof: list[bytes]


def proofs_for(
    session: Session,
    actor: Actor,
    object_id: str,
    signer: CheckpointSigner,
    *,
    origin: str,
    now: datetime,
    audit: AuditSink,
) -> InclusionProofs:
    """Inclusion proofs, against a checkpoint signed now, of the entries about ``object_id`` that the
    actor's society sees in its events listing (another society's object answers as if it had none).

    The request is logged for the object's owning society (so it sees who asked about its records),
    as refused when that is another society than the actor's. Only an id the log already names, or an
    id, is ever written to the log.
    """
    head = sign_current_checkpoint(session, signer, origin=origin, now=now)
    tree = proofs.TreeProofs(session, signer.verifier(), origin, head.compact)
    found = tree.for_object(object_id, society_id=actor.society_id)
    owner = proofs.object_owner(session, object_id)
    foreign = owner.society_id is not None and owner.society_id != actor.society_id
    audit(
        AuditEntry(
            Action.AUDIT_PROOF,
            outcome=Outcome.DENIED if foreign else Outcome.OK,
            actor=actor,
            owner_society_id=owner.society_id,
            object_type=owner.object_type,
            object_id=object_id if owner.known else _as_id(object_id),
        )
    )
    return InclusionProofs(head, found)


def consistency_for(
    session: Session,
    actor: Actor,
    from_size: int,
    signer: CheckpointSigner,
    *,
    origin: str,
    now: datetime,
    audit: AuditSink,
) -> ConsistencyProof:
    """A proof that the tree of ``from_size`` entries is a prefix of the tree signed now."""
    head = sign_current_checkpoint(session, signer, origin=origin, now=now)
    try:
        from_root, proof = proofs.TreeProofs(session, signer.verifier(), origin, head.compact).consistency(
            from_size
        )
    except ValueError:
        raise ValidationFailed({"from_size": ["Must be between 1 and the current tree size."]}) from None
    _logged(audit, actor, Action.AUDIT_CONSISTENCY)
    return ConsistencyProof(head, from_size, from_root, proof)


def verification_for(
    session: Session,
    actor: Actor | None,
    verifier: CheckpointVerifier,
    *,
    origin: str,
    now: datetime,
    step: int | None = None,
    restart: bool = False,
    against: str | None = None,
    audit: AuditSink,
) -> Verification:
    """Verify the whole log in one pass (``step`` None, optionally ``against`` an exported checkpoint),
    or at most ``step`` more entries of the latest verification run (a new one with ``restart``).

    ``session`` only reads: give it a read-only transaction. The caller stores ``result.progress``
    (``verification.record_progress``) in a short write transaction afterwards.
    """
    if step is None:
        result = verification.verify_log(session, verifier, origin=origin, now=now, against=against)
    else:
        result = verification.continue_verification(
            session, verifier, origin=origin, now=now, step=step, restart=restart
        )
    _logged(audit, actor, Action.AUDIT_VERIFY)
    return result


def _as_id(text: str) -> str | None:
    """The audit log is never erased, so no free text typed by a user may enter it: ids only."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None
