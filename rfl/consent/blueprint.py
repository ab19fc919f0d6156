"""Routes of consent records: recorded by the sighting's tracing officers, logged for auditors."""

from __future__ import annotations

import uuid
from typing import Any

from flask import url_for

from privacy import Category
from rfl.audit.recorder import record as audit
from rfl.clock import now
from rfl.consent import services
from rfl.consent.models import PARTNERS
from rfl.consent.schemas import (
    ConsentInputSchema,
    ConsentListSchema,
    ConsentLogQuerySchema,
    ConsentPageSchema,
    ConsentSchema,
)
from rfl.consent.services import ConsentInput, ConsentView
from rfl.db import db
from rfl.extensions import app_services
from rfl.http.auth import current_actor, require_roles
from rfl.http.blueprint import Blueprint
from rfl.http.idempotency import idempotent
from rfl.identity import Actor, Role, society_codes

blp = Blueprint("consent", __name__, url_prefix="/api/v1", description="Consent of found persons")


def _view(view: ConsentView, codes: dict[uuid.UUID, str]) -> dict[str, Any]:
    consent = view.consent
    return {
        "id": consent.id,
        "sighting_id": consent.sighting_id,
        "society": codes[consent.society_id],
        "decision": consent.decision.value,
        "scope": list(consent.scope),
        "recipient": consent.recipient,
        "method": consent.method.value,
        "expires_at": consent.expires_at,
        "recorded_by": consent.recorded_by,
        "recorded_at": consent.recorded_at,
        "seal_valid": view.sealed,
        **view.personal,
    }


def _codes(actor: Actor) -> dict[uuid.UUID, str]:
    return society_codes(db.session, [actor.society_id])


def _recorded(view: ConsentView, actor: Actor) -> tuple[dict[str, Any], int, dict[str, str]]:
    location = url_for("consent.list_for_sighting", sighting_id=view.consent.sighting_id)
    return _view(view, _codes(actor)), 201, {"Location": location}


def _consent_for_replay(
    session: Any, actor: Actor, consent_id: uuid.UUID
) -> tuple[dict[str, Any], int, dict[str, str]]:
    view = services.read_consent(session, app_services().crypto(session), actor, consent_id, audit=audit)
    return _recorded(view, actor)


@blp.route("/sightings/<uuid:sighting_id>/consents", methods=["POST"])
@require_roles(Role.TRACING_OFFICER)
@blp.arguments(ConsentInputSchema)
@blp.response(201, ConsentSchema)
@idempotent(_consent_for_replay)
def record(body: dict[str, Any], sighting_id: uuid.UUID) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Record the found person's consent (given, refused or withdrawn).

    By a tracing officer of the sighting's society. The recipient is a tracing request confirmed to
    match this sighting, or `partners`. Records are appended, never edited: a withdrawal is a new record,
    and for one recipient the latest record is in force. A minor's consent comes only from a guardian or
    a best-interests decision. A refusal closes the family's case: its side learns only that the search
    is closed. Personal details (guardian, note, message) are encrypted under the person's data key.
    """
    session, actor = db.session, current_actor()
    recipient = (
        str(body["recipient_tracing_request_id"]) if body["recipient_tracing_request_id"] else PARTNERS
    )
    given = ConsentInput(
        decision=body["decision"],
        scope=frozenset(Category(category) for category in body["scope"]),
        recipient=recipient,
        method=body["method"],
        expires_at=body["expires_at"],
        guardian_name=body["guardian_name"],
        note=body["note"],
        message=body["message"],
    )
    consent = services.record_consent(
        session, app_services().crypto(session), actor, sighting_id, given, now=now(), audit=audit
    )
    personal = {name: body[name] for name in services.PERSONAL_COLUMNS if body.get(name)}
    return _recorded(ConsentView(consent, True, personal), actor)


@blp.route("/sightings/<uuid:sighting_id>/consents", methods=["GET"])
@require_roles(Role.TRACING_OFFICER)
@blp.response(200, ConsentListSchema)
def list_for_sighting(sighting_id: uuid.UUID) -> dict[str, Any]:
    """Every consent record of one found person, oldest first.

    For the tracing officers of the sighting's society, with the personal details decrypted (audited).
    `seal_valid` false marks a row altered in the database: it is never honoured.
    """
    session, actor = db.session, current_actor()
    views = services.consents_of_sighting(
        session, app_services().crypto(session), actor, sighting_id, audit=audit
    )
    codes = _codes(actor)
    return {"items": [_view(view, codes) for view in views]}


@blp.route("/consents", methods=["GET"])
@require_roles(Role.AUDITOR, Role.ADMIN)
@blp.arguments(ConsentLogQuerySchema, location="query")
@blp.response(200, ConsentPageSchema)
def consent_log(query: dict[str, Any]) -> dict[str, Any]:
    """The consent log of your society.

    For auditors and admins: ids, decisions, scopes, recipients, methods and times, never personal
    details; filtered by officer, period and decision; each row says whether its seal holds.
    """
    session, actor = db.session, current_actor()
    filters = services.ConsentLogFilter(
        society_code=query["society"],
        officer_id=query["officer"],
        since=query["since"],
        until=query["until"],
        decision=query["decision"],
    )
    page = services.consent_log(
        session,
        app_services().crypto(session),
        actor,
        filters,
        limit=query["limit"],
        cursor=query["cursor"],
        audit=audit,
    )
    codes = _codes(actor)
    return {"items": [_view(view, codes) for view in page.items], "next_cursor": page.next_cursor}
