"""Routes of retention and erasure: a society's periods, erasure on request, legal holds."""

from __future__ import annotations

import uuid
from typing import Any

from rfl.audit.recorder import record as audit
from rfl.clock import now
from rfl.db import db
from rfl.extensions import app_services
from rfl.http.auth import current_actor, require_roles
from rfl.http.blueprint import Blueprint
from rfl.identity import Role, society_codes
from rfl.records.models import RecordMixin
from rfl.records.services import SIGHTINGS, TRACING_REQUESTS, RecordType
from rfl.retention import services
from rfl.retention.models import ErasureReason, HoldReason
from rfl.retention.policy import Category
from rfl.retention.schemas import (
    LegalHoldSchema,
    PolicyInputSchema,
    PolicySchema,
    RequestErasureSchema,
    SightingErasureSchema,
    SkeletonSchema,
)

blp = Blueprint("retention", __name__, url_prefix="/api/v1", description="Retention and erasure")


def _policy(view: services.PolicyView) -> dict[str, Any]:
    return {
        "society": view.society_code,
        "periods": [
            {"category": category.value, "days": days, "default": default, "own": own}
            for category, (days, default, own) in view.periods.items()
        ],
    }


def skeleton(kind: RecordType, record: RecordMixin) -> dict[str, Any]:
    return {
        "id": record.id,
        "society": society_codes(db.session, [record.society_id])[record.society_id],
        "status": record.status.value,
        "created_at": record.created_at,
        "closed_at": record.closed_at,
        "minor": record.minor,
        "legal_hold": record.legal_hold,
        "legal_hold_at": record.legal_hold_at,
        "erased": {
            services.person_name(kind, role): getattr(record, column)
            for role, column in kind.erased_columns.items()
        },
    }


@blp.route("/retention-policy", methods=["GET"])
@require_roles(Role.ADMIN)
@blp.response(200, PolicySchema)
def get_policy() -> dict[str, Any]:
    """The retention periods in force for your society.

    For admins: per category, the period in days (or `never`), the installation's default, and
    whether the society set its own."""
    view = services.policy_view(db.session, current_actor(), app_services().settings.retention, audit=audit)
    return _policy(view)


@blp.route("/retention-policy", methods=["PUT"])
@require_roles(Role.ADMIN)
@blp.arguments(PolicyInputSchema)
@blp.response(200, PolicySchema)
def put_policy(body: dict[str, Any]) -> dict[str, Any]:
    """Set your society's own retention periods.

    Replaces the society's own periods; categories not named follow the installation's defaults."""
    periods = {Category(name): days for name, days in body["periods"].items()}
    view = services.update_policy(
        db.session, current_actor(), app_services().settings.retention, periods, now=now(), audit=audit
    )
    return _policy(view)


def _erase(kind: RecordType, record_id: uuid.UUID, person: str, reason: str) -> dict[str, Any]:
    session = db.session
    record = services.erase_on_request(
        session,
        app_services().crypto(session),
        current_actor(),
        kind,
        record_id,
        person=person,
        reason=ErasureReason(reason),
        now=now(),
        audit=audit,
    )
    return skeleton(kind, record)


@blp.route("/tracing-requests/<uuid:record_id>/erasure", methods=["POST"])
@require_roles(Role.ADMIN)
@blp.arguments(RequestErasureSchema)
@blp.response(200, SkeletonSchema)
def erase_request_person(body: dict[str, Any], record_id: uuid.UUID) -> dict[str, Any]:
    """Erase one person of a tracing request (the right to erasure).

    By an admin of the owning society. The person's data key is destroyed and their fields emptied;
    the sought person's candidates are withdrawn and the matcher forgets them. Answers the record's
    skeleton; 409 while the record is under a legal hold or when the person was erased already."""
    return _erase(TRACING_REQUESTS, record_id, body["person"], body["reason"])


@blp.route("/sightings/<uuid:record_id>/erasure", methods=["POST"])
@require_roles(Role.ADMIN)
@blp.arguments(SightingErasureSchema)
@blp.response(200, SkeletonSchema)
def erase_sighting_person(body: dict[str, Any], record_id: uuid.UUID) -> dict[str, Any]:
    """Erase the found person of a sighting (the right to erasure).

    By an admin of the owning society; answers the record's skeleton; 409 under a legal hold or when
    the person was erased already."""
    return _erase(SIGHTINGS, record_id, "person", body["reason"])


def _register_holds(kind: RecordType, path: str, label: str) -> None:
    @blp.route(f"/{path}/<uuid:record_id>/legal-hold", methods=["PUT"], endpoint=f"hold_{kind.name}")
    @require_roles(Role.TRACING_OFFICER)
    @blp.doc(
        summary=f"Put a {label} under a legal hold",
        description="By a tracing officer of the owning society: none of the record's persons is erased,"
        " on request or by a retention run (which lists it as held), until the hold is lifted. The reason"
        " is a code; setting and lifting are audited. Answers the record's skeleton.",
    )
    @blp.arguments(LegalHoldSchema)
    @blp.response(200, SkeletonSchema)
    def hold(body: dict[str, Any], record_id: uuid.UUID) -> dict[str, Any]:
        record = services.set_legal_hold(
            db.session, current_actor(), kind, record_id, HoldReason(body["reason"]), now=now(), audit=audit
        )
        return skeleton(kind, record)

    @blp.route(f"/{path}/<uuid:record_id>/legal-hold", methods=["DELETE"], endpoint=f"lift_hold_{kind.name}")
    @require_roles(Role.TRACING_OFFICER)
    @blp.doc(
        summary=f"Lift the legal hold of a {label}",
        description="By a tracing officer of the owning society; audited. From then on the record's"
        " persons may be erased again. Answers the record's skeleton.",
    )
    @blp.response(200, SkeletonSchema)
    def lift(record_id: uuid.UUID) -> dict[str, Any]:
        record = services.lift_legal_hold(db.session, current_actor(), kind, record_id, audit=audit)
        return skeleton(kind, record)


_register_holds(TRACING_REQUESTS, "tracing-requests", "tracing request")
_register_holds(SIGHTINGS, "sightings", "sighting")
