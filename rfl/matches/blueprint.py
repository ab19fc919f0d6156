"""Routes of the match workflow: the officers' queue, a candidate's detail, and the decisions."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from rfl.audit.recorder import record as audit
from rfl.clock import now
from rfl.db import db
from rfl.extensions import app_services
from rfl.http.auth import current_actor, require_roles
from rfl.http.blueprint import Blueprint
from rfl.identity import Role
from rfl.matches import services
from rfl.matches.schemas import (
    ConfirmSchema,
    MatchDetailSchema,
    MatchPageSchema,
    MatchQuerySchema,
    MatchSchema,
    ReasonSchema,
)
from rfl.matches.services import CandidateDetail, CandidateView
from rfl.matches.store import current_matcher

blp = Blueprint("matches", __name__, url_prefix="/api/v1/matches", description="Match candidates")


def _item(view: CandidateView) -> dict[str, Any]:
    candidate = view.candidate
    return {
        "id": candidate.id,
        "tracing_request_id": candidate.tracing_request_id,
        "sighting_id": candidate.sighting_id,
        "request_society": view.request_society,
        "sighting_society": view.sighting_society,
        "match_probability": candidate.match_probability,
        "match_weight": candidate.match_weight,
        "status": candidate.status.value,
        "model_version": candidate.model_version,
        # The internal outcome is the sighting's society's (and auditors') to know (rule 2).
        "outcome": candidate.outcome.value if candidate.outcome and view.sighting_side else None,
        "created_at": candidate.created_at,
        "updated_at": candidate.updated_at,
    }


def _detail(detail: CandidateDetail) -> dict[str, Any]:
    return _item(detail.view) | {
        "explanation": detail.view.candidate.explanation,
        "comparison": detail.comparison,
        "identifiers": detail.identifiers,
        "evidence": [dataclasses.asdict(field) for field in detail.alignment.fields],
        "enquirer": detail.enquirer,
    }


@blp.route("", methods=["GET"])
@require_roles(Role.TRACING_OFFICER)
@blp.arguments(MatchQuerySchema, location="query")
@blp.response(200, MatchPageSchema)
def queue(query: dict[str, Any]) -> dict[str, Any]:
    """The review queue.

    Candidate pairs where your society is on either side, most probable first, filtered by `status`,
    `society` (a society on either side) and `min_probability`; keyset-paginated. Pairs whose sighting
    rule 10 hides from your society, or from the request, are never listed.
    """
    filters = services.QueueFilter(query["status"], query["society"], query["min_probability"])
    session = db.session
    page = services.queue(
        session,
        app_services().crypto(session),
        current_actor(),
        filters,
        limit=query["limit"],
        cursor=query["cursor"],
        audit=audit,
    )
    return {"items": [_item(view) for view in page.items], "next_cursor": page.next_cursor}


@blp.route("/<uuid:match_id>", methods=["GET"])
@require_roles(Role.TRACING_OFFICER)
@blp.response(200, MatchDetailSchema)
def detail(match_id: uuid.UUID) -> dict[str, Any]:
    """One candidate, explained.

    The stored explanation (field, agreement level, weight), the comparison now with the name-token
    alignment, and both persons' identity fields side by side, decrypted on demand; the reveal is
    audited for both records. Identifiers (document, phone) appear as agreement levels only; the found
    person's whereabouts and contacts never.
    """
    session = db.session
    crypto = app_services().crypto(session)
    return _detail(
        services.candidate_detail(
            session, crypto, current_matcher(session, crypto), current_actor(), match_id, audit=audit
        )
    )


@blp.route("/<uuid:match_id>/confirm", methods=["POST"])
@require_roles(Role.TRACING_OFFICER)
@blp.arguments(ConfirmSchema)
@blp.response(200, MatchSchema)
def confirm(body: dict[str, Any], match_id: uuid.UUID) -> dict[str, Any]:
    """Confirm that the pair is the same person.

    By a tracing officer of either society. The tracing request moves to `awaiting_consent`. For a
    minor or a deceased person the status is `pending_approval` until a second, different officer
    approves. A request has at most one confirmed sighting (409 until the first is withdrawn); a
    decision that loses a race answers 409 with the current state.
    """
    session = db.session
    view = services.confirm(
        session,
        app_services().crypto(session),
        current_actor(),
        match_id,
        note=body["note"],
        now=now(),
        audit=audit,
    )
    return _item(view)


@blp.route("/<uuid:match_id>/approve", methods=["POST"])
@require_roles(Role.TRACING_OFFICER)
@blp.response(200, MatchSchema)
def approve(match_id: uuid.UUID) -> dict[str, Any]:
    """Approve a confirmation as the second officer.

    Needed for minors and deceased persons (domain rules 3 and 4); the approving officer must not be
    the one who confirmed (403).
    """
    session = db.session
    crypto = app_services().crypto(session)
    return _item(services.approve(session, crypto, current_actor(), match_id, now=now(), audit=audit))


@blp.route("/<uuid:match_id>/reject", methods=["POST"])
@require_roles(Role.TRACING_OFFICER)
@blp.arguments(ReasonSchema)
@blp.response(200, MatchSchema)
def reject(body: dict[str, Any], match_id: uuid.UUID) -> dict[str, Any]:
    """Reject the pair: not the same person.

    The reason is stored encrypted. The pair is not proposed again unless one of its records changes
    in a field the matcher compares.
    """
    session = db.session
    view = services.reject(
        session,
        app_services().crypto(session),
        current_actor(),
        match_id,
        reason=body["reason"],
        now=now(),
        audit=audit,
    )
    return _item(view)


@blp.route("/<uuid:match_id>/withdraw", methods=["POST"])
@require_roles(Role.TRACING_OFFICER)
@blp.arguments(ReasonSchema)
@blp.response(200, MatchSchema)
def withdraw(body: dict[str, Any], match_id: uuid.UUID) -> dict[str, Any]:
    """Withdraw a confirmation.

    The tracing request is open again; the reason is stored encrypted and the withdrawal audited.
    """
    session = db.session
    view = services.withdraw(
        session,
        app_services().crypto(session),
        current_actor(),
        match_id,
        reason=body["reason"],
        now=now(),
        audit=audit,
    )
    return _item(view)
