"""Auditor endpoints: events, signed checkpoints, inclusion and consistency proofs, verification."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from sqlalchemy.orm import Session

from rfl.accounts.models import Role
from rfl.audit import services, verification
from rfl.audit.log import shown_object_ids
from rfl.audit.models import AuditEvent
from rfl.audit.recorder import record
from rfl.audit.schemas import (
    AuditEventPageSchema,
    AuditEventQuerySchema,
    ConsistencyProofSchema,
    ConsistencyQuerySchema,
    InclusionProofsSchema,
    ProofQuerySchema,
    VerificationSchema,
    VerifyQuerySchema,
)
from rfl.clock import now
from rfl.db import db
from rfl.extensions import app_services
from rfl.http.auth import current_actor, require_roles
from rfl.http.blueprint import Blueprint
from rfl.http.transactions import writes_on_safe_method
from rfl.identity import society_codes, user_id_by_email

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="The tamper-evident audit log")

AUDIT_READERS = (Role.AUDITOR, Role.ADMIN)
# Matches no user: an actor filter naming nobody in the caller's society finds no entries.
NOBODY = uuid.UUID(int=0)


@blp.route("/events", methods=["GET"])
@require_roles(*AUDIT_READERS)
@blp.arguments(AuditEventQuerySchema, location="query")
@blp.response(200, AuditEventPageSchema)
def list_events(query: dict[str, Any]) -> dict[str, Any]:
    """Audit events of the caller's society, oldest first.

    Filter by acting user (`actor`: a user id, or the email of a user of the caller's society),
    action, object and time. A society sees the entries about its own objects (whoever acted), and
    the entries about no object that its own users caused. Society codes are shown beside their ids.
    """
    session, actor = db.session, current_actor()
    event_query = services.EventQuery(
        actor_user_id=_actor_filter(query["actor"], actor.society_id),
        action=query["action"],
        object_id=query["object_id"],
        since=query["since"],
    )
    page = services.read_events(
        session, actor, event_query, limit=query["limit"], cursor=query["cursor"], audit=record
    )
    codes = society_codes(session)
    shown = shown_object_ids(session, page.items, actor.society_id)
    items = [_event_view(event, codes, shown[event.seq]) for event in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


def _actor_filter(actor: str | None, society_id: uuid.UUID) -> uuid.UUID | None:
    if actor is None:
        return None
    try:
        return uuid.UUID(actor)
    except ValueError:
        return user_id_by_email(db.session, actor, society_id=society_id) or NOBODY


def _event_view(event: AuditEvent, codes: dict[uuid.UUID, str], object_ids: list[str]) -> dict[str, Any]:
    view = {column.key: getattr(event, column.key) for column in AuditEvent.__table__.columns}
    view["object_ids"] = object_ids
    view["actor_society"] = codes.get(event.actor_society_id) if event.actor_society_id else None
    view["owner_society"] = codes.get(event.owner_society_id) if event.owner_society_id else None
    return view


@blp.route("/checkpoint", methods=["GET"])
@require_roles(*AUDIT_READERS)
@writes_on_safe_method
@blp.response(200, content_type="text/plain")
def checkpoint() -> Response:
    """The latest signed checkpoint of the audit log.

    A C2SP tlog-checkpoint signed note (origin, tree size, root hash, Ed25519 signature), signed now if
    the log grew since the last one. Keep it outside the system to prove later that the log was only
    ever appended to.
    """
    app = app_services()
    signed = services.checkpoint_for(
        db.session,
        current_actor(),
        app.audit_signer,
        origin=app.settings.checkpoint_origin,
        now=now(),
        audit=record,
    )
    return Response(signed.note, mimetype="text/plain")


@blp.route("/proof", methods=["GET"])
@require_roles(*AUDIT_READERS)
@writes_on_safe_method
@blp.arguments(ProofQuerySchema, location="query")
@blp.response(200, InclusionProofsSchema)
def inclusion_proof(query: dict[str, str]) -> dict[str, Any]:
    """Inclusion proofs of the entries about one object.

    RFC 6962 audit paths, against a checkpoint signed now (returned as `checkpoint`: check its
    signature, then each path against its root), for each entry about `object_id` that the caller's
    society sees in its events listing. Another society's object answers as if it had no entries; the
    request is logged for the object's owning society.
    """
    app = app_services()
    result = services.proofs_for(
        db.session,
        current_actor(),
        query["object_id"],
        app.audit_signer,
        origin=app.settings.checkpoint_origin,
        now=now(),
        audit=record,
    )
    return {
        "tree_size": result.head.size,
        "root": result.head.root,
        "checkpoint": result.head.note,
        "proofs": result.proofs,
    }


@blp.route("/consistency", methods=["GET"])
@require_roles(*AUDIT_READERS)
@writes_on_safe_method
@blp.arguments(ConsistencyQuerySchema, location="query")
@blp.response(200, ConsistencyProofSchema)
def consistency(query: dict[str, int]) -> dict[str, Any]:
    """A consistency proof from an earlier tree size to a checkpoint signed now.

    Proves that the tree of `from_size` entries (e.g. a checkpoint kept outside) is a prefix of the tree
    of the signed `checkpoint` returned with it.
    """
    app = app_services()
    result = services.consistency_for(
        db.session,
        current_actor(),
        query["from_size"],
        app.audit_signer,
        origin=app.settings.checkpoint_origin,
        now=now(),
        audit=record,
    )
    return {
        "from_size": result.from_size,
        "tree_size": result.head.size,
        "from_root": result.from_root,
        "root": result.head.root,
        "checkpoint": result.head.note,
        "proof": result.proof,
    }


@blp.route("/verify", methods=["GET"])
@require_roles(*AUDIT_READERS)
@blp.arguments(VerifyQuerySchema, location="query")
@blp.response(200, VerificationSchema)
def verify(query: dict[str, bool]) -> dict[str, Any]:
    """Verify the audit log a bounded step at a time: call again until `complete` is true.

    A verification run starts at entry 0. Each request continues the latest run from where it stopped
    (kept in a signed record, so a forged one is detected and ignored): it recomputes the leaf hashes
    of at most `RFL_AUDIT_VERIFY_STEP` more entries (100,000 by default, a few seconds), compares the
    recomputed tree with every stored checkpoint it passes, and answers; so no request outlives a
    worker's timeout. Once a run has reached the end of the log, later requests verify only the entries
    appended since, against the same recomputed tree. `restart=true` starts a new run from entry 0.
    `rfl audit verify` verifies the whole log in one pass (and records it as a run the API then
    continues). `problems` names the first bad entry and every checkpoint row that does not hold.
    The request reads without blocking writers; the run's progress and the request's audit entry are
    written at its end in a short write transaction.
    """
    app, actor = app_services(), current_actor()
    result = services.verification_for(
        db.session,
        actor,
        app.audit_signer.verifier(),
        origin=app.settings.checkpoint_origin,
        now=now(),
        step=app.settings.audit_verify_step,
        restart=query["restart"],
        audit=record,
    )
    recorded_at = now()

    def record_progress(session: Session) -> None:
        verification.record_progress(
            session,
            app.audit_signer,
            origin=app.settings.checkpoint_origin,
            progress=result.progress,
            now=recorded_at,
        )

    db.before_commit(record_progress)
    return {
        "ok": result.ok,
        "size": result.size,
        "root": result.root,
        "complete": result.complete,
        "log_size": result.log_size,
        "started_at": result.started_at,
        "checkpoint": result.checkpoint,
        "problems": result.problems,
    }
