"""Auditor endpoints: events, signed checkpoints, inclusion and consistency proofs, verification."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app
from flask_smorest import Blueprint

from rfl.accounts.models import Role
from rfl.audit import services
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
)
from rfl.audit.services import AuditEntry
from rfl.clock import now
from rfl.db import db
from rfl.errors import ValidationFailed
from rfl.http.auth import current_actor, require_roles
from rfl.http.pagination import Page

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="The tamper-evident audit log")

AUDIT_READERS = (Role.AUDITOR, Role.ADMIN)


def _exported(what: str, object_id: str | None = None) -> None:
    record(
        AuditEntry(
            action=f"audit.{what}", actor=current_actor(), object_type="audit_log", object_id=object_id
        )
    )


def _as_id(text: str) -> str | None:
    """Only an id goes into the log: the audit log is never erased, so no free text typed by a user may."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def _origin() -> str:
    return str(current_app.extensions["rfl.settings"].checkpoint_origin)


@blp.route("/events", methods=["GET"])
@require_roles(*AUDIT_READERS)
@blp.arguments(AuditEventQuerySchema, location="query")
@blp.response(200, AuditEventPageSchema)
def list_events(query: dict[str, Any]) -> Page[AuditEvent]:
    """Audit events of the caller's society, oldest first, filtered by actor, action, object and time.

    A society sees the entries about its own objects (whoever acted), and the entries about no object
    that its own users caused. Entries about another society's objects stay with that society: even
    that a record exists, or that a restriction hid it, is that society's to know.
    """
    society = current_actor().society_id
    statement = sa.select(AuditEvent).where(
        sa.or_(
            AuditEvent.owner_society_id == society,
            sa.and_(AuditEvent.owner_society_id.is_(None), AuditEvent.actor_society_id == society),
        )
    )
    if query["actor"] is not None:
        statement = statement.where(AuditEvent.actor_user_id == query["actor"])
    if query["action"] is not None:
        statement = statement.where(AuditEvent.action == query["action"])
    if query["object_id"] is not None:
        statement = statement.where(AuditEvent.object_id == query["object_id"])
    if query["since"] is not None:
        statement = statement.where(AuditEvent.occurred_at >= query["since"])
    after = _decode_seq_cursor(query["cursor"])
    if after is not None:
        statement = statement.where(AuditEvent.seq > after)
    rows = list(db.session.scalars(statement.order_by(AuditEvent.seq).limit(query["limit"] + 1)))
    _exported("read")
    if len(rows) <= query["limit"]:
        return Page(items=rows, next_cursor=None)
    page = rows[: query["limit"]]
    return Page(items=page, next_cursor=_encode_seq_cursor(page[-1].seq))


def _encode_seq_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def _decode_seq_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        seq = int(number)
        if prefix != "seq" or not 0 <= seq < 2**63:
            raise ValueError(cursor)
        return seq
    except ValueError:
        raise ValidationFailed({"cursor": ["Not a cursor returned by this API."]}) from None


@blp.route("/checkpoint", methods=["GET"])
@require_roles(*AUDIT_READERS)
@blp.response(200, content_type="text/plain")
def checkpoint() -> Response:
    """The latest signed checkpoint (C2SP tlog-checkpoint signed note), signed now if the log grew."""
    signed = services.sign_current_checkpoint(
        db.session,
        current_app.extensions["rfl.audit_signer"],
        origin=_origin(),
        now=now(),
    )
    _exported("checkpoint")
    return Response(signed.note, mimetype="text/plain")


@blp.route("/proof", methods=["GET"])
@require_roles(*AUDIT_READERS)
@blp.arguments(ProofQuerySchema, location="query")
@blp.response(200, InclusionProofsSchema)
def inclusion_proof(query: dict[str, str]) -> dict[str, Any]:
    """Inclusion proofs, against the current tree, of every entry about one object."""
    size, root, proofs = services.inclusion_proofs_for_object(db.session, query["object_id"])
    _exported("proof", _as_id(query["object_id"]))
    return {"tree_size": size, "root": root, "proofs": proofs}


@blp.route("/consistency", methods=["GET"])
@require_roles(*AUDIT_READERS)
@blp.arguments(ConsistencyQuerySchema, location="query")
@blp.response(200, ConsistencyProofSchema)
def consistency(query: dict[str, int]) -> dict[str, Any]:
    """A consistency proof from an earlier tree size to the current tree."""
    try:
        size, from_root, root, proof = services.consistency_from(db.session, query["from_size"])
    except ValueError:
        raise ValidationFailed({"from_size": ["Must be between 1 and the current tree size."]}) from None
    _exported("consistency")
    return {
        "from_size": query["from_size"],
        "tree_size": size,
        "from_root": from_root,
        "root": root,
        "proof": proof,
    }


@blp.route("/verify", methods=["GET"])
@require_roles(*AUDIT_READERS)
@blp.response(200, VerificationSchema)
def verify() -> dict[str, Any]:
    """Recompute every leaf and the root, and check every stored checkpoint."""
    signer = current_app.extensions["rfl.audit_signer"]
    result = services.verify_log(db.session, signer.verifier(), origin=_origin())
    _exported("verify")
    return {
        "ok": result.ok,
        "size": result.size,
        "root": result.root,
        "checkpoint": result.checkpoint.note if result.checkpoint else None,
        "problems": result.problems,
    }
