"""Routes of disclosures: the request to release, the disclosure log, and the evidence export."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from flask import Response, url_for

from privacy import Category
from rfl.audit.proofs import TreeProofs
from rfl.audit.recorder import record as audit
from rfl.clock import now
from rfl.db import db
from rfl.disclosures import export, services
from rfl.disclosures.models import Disclosure
from rfl.disclosures.schemas import (
    DisclosedSchema,
    DisclosureLogQuerySchema,
    DisclosurePageSchema,
    DisclosureRequestSchema,
    ExportQuerySchema,
)
from rfl.errors import NotFound, PermissionDenied
from rfl.extensions import app_services
from rfl.http.auth import current_actor, require_roles
from rfl.http.blueprint import Blueprint
from rfl.http.transactions import keep_the_refusal, writes_on_safe_method
from rfl.identity import Role, society_codes

blp = Blueprint("disclosures", __name__, url_prefix="/api/v1", description="Disclosures to families")


class DisclosureDenied(PermissionDenied):
    """The policy refused a disclosure; ``reasons`` lists every failed condition."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("The disclosure is not allowed; nothing was released.")
        self.reasons = reasons


@blp.route("/matches/<uuid:match_id>/disclosures", methods=["POST"])
@require_roles(Role.TRACING_OFFICER)
@blp.arguments(DisclosureRequestSchema)
@blp.response(201, DisclosedSchema)
def disclose(body: dict[str, Any], match_id: uuid.UUID) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Release categories of information about the found person to the family.

    By a tracing officer of the request's society. The consent policy decides, all or nothing: if any
    requested category is not covered (no confirmed match, no second approval for a minor or a deceased
    person, no consent in force for this request, withdrawn, refused, expired, outside the scope),
    nothing is released and the answer is 403 listing every reason (of a pair not confirmed, only
    that: nothing of the found person). The fate of a deceased person (`fate` alone) needs no
    consent. Allowed: 201 with exactly the released data, decrypted now, and the request becomes
    `disclosed`. Either way the attempt is recorded and audited. Not replayed on retry (no
    Idempotency-Key): each request is decided anew, so a retry never releases what a consent
    withdrawn meanwhile no longer covers.
    """
    session, actor = db.session, current_actor()
    categories = frozenset(Category(category) for category in body["categories"])
    result = services.disclose(
        session, app_services().crypto(session), actor, match_id, categories, now=now(), audit=audit
    )
    if result.disclosure is None:  # the found person said no: to the family's side the pair is gone
        keep_the_refusal()
        raise NotFound("No such match candidate.")
    if not result.decision.allowed:
        keep_the_refusal()
        raise DisclosureDenied([reason.value for reason in result.decision.reasons])
    disclosure = result.disclosure
    body = {
        "id": disclosure.id,
        "outcome": disclosure.outcome.value,
        "consent_id": disclosure.consent_id,
        "released": result.released,
    }
    location = url_for("disclosures.disclosure_log", tracing_request_id=disclosure.tracing_request_id)
    return body, 201, {"Location": location}


@blp.route("/disclosures", methods=["GET"])
@require_roles(Role.AUDITOR, Role.ADMIN)
@blp.arguments(DisclosureLogQuerySchema, location="query")
@blp.response(200, DisclosurePageSchema)
def disclosure_log(query: dict[str, Any]) -> dict[str, Any]:
    """The disclosure log.

    Disclosures and refused attempts where your society is on either side: ids, categories, outcome,
    every reason, the consent record relied on, and the audit entries that recorded each, with inclusion
    proofs against the current tree. Never personal data.
    """
    session, actor = db.session, current_actor()
    filters = services.DisclosureLogFilter(
        tracing_request_id=query["tracing_request_id"],
        society_code=query["society"],
        sighting_id=query["sighting_id"],
        since=query["since"],
        until=query["until"],
        outcome=query["outcome"],
        officer_id=query["officer"],
    )
    page = services.disclosure_log(
        session, actor, filters, limit=query["limit"], cursor=query["cursor"], audit=audit
    )
    ids = {d.request_society_id for d in page.items} | {d.sighting_society_id for d in page.items}
    codes = society_codes(session, ids)
    app = app_services()
    tree = TreeProofs.now(session, app.audit_signer.verifier(), app.settings.checkpoint_origin)
    return {"items": [_item(d, codes, tree) for d in page.items], "next_cursor": page.next_cursor}


def _item(disclosure: Disclosure, codes: dict[uuid.UUID, str], tree: TreeProofs) -> dict[str, Any]:
    size, root, proofs = tree.size, tree.root, tree.for_object(str(disclosure.id))
    return {
        "id": disclosure.id,
        "match_candidate_id": disclosure.match_candidate_id,
        "tracing_request_id": disclosure.tracing_request_id,
        "sighting_id": disclosure.sighting_id,
        "request_society": codes[disclosure.request_society_id],
        "sighting_society": codes[disclosure.sighting_society_id],
        "categories": disclosure.categories,
        "outcome": disclosure.outcome.value,
        "reasons": disclosure.reasons,
        "consent_id": disclosure.consent_id,
        "officer_user_id": disclosure.officer_user_id,
        "decided_at": disclosure.decided_at,
        "audit": [
            {
                "seq": proof.seq,
                "tree_size": size,
                "root": base64.b64encode(root).decode(),
                "proof": [base64.b64encode(node).decode() for node in proof.proof],
            }
            for proof in proofs
        ],
    }


@blp.route("/audit/export", methods=["GET"])
@require_roles(Role.AUDITOR, Role.ADMIN)
@writes_on_safe_method  # it signs a checkpoint of the log as it is
@blp.arguments(ExportQuerySchema, location="query")
@blp.response(200, content_type="application/json")
def audit_export(query: dict[str, Any]) -> Response:
    """Export the consent or disclosure log with the evidence to verify it offline.

    Ids, codes and categories only. Each row carries the audit entry that recorded it and an inclusion
    proof under a checkpoint signed now; `rfl audit verify-export FILE --key VKEY` checks the export with
    the log's public key alone, and an altered export fails. JSON, or CSV whose `#` lines carry the
    checkpoint.
    """
    session, actor = db.session, current_actor()
    services_ = app_services()
    document = export.build_export(
        session,
        actor,
        services_.audit_signer,
        export.ExportQuery(query["kind"], query["since"], query["until"]),
        origin=services_.settings.checkpoint_origin,
        now=now(),
        audit=audit,
    )
    if query["format"] == "csv":
        return Response(export.as_csv(document), mimetype="text/csv")
    return Response(json.dumps(document, sort_keys=True), mimetype="application/json")
