"""Routes of tracing requests and sightings (the same conventions for both record types)."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import request, url_for
from flask_smorest import Blueprint

from rfl.audit.recorder import record as audit
from rfl.clock import now
from rfl.crypto import Crypto
from rfl.db import db
from rfl.extensions import app_services
from rfl.http.auth import current_actor, require_roles
from rfl.http.conditional import etag_for, require_if_match
from rfl.http.idempotency import idempotent
from rfl.http.merge_patch import patched_document
from rfl.identity import Actor, Role
from rfl.records import services
from rfl.records.schemas import (
    RecordListQuerySchema,
    RecordPageSchema,
    SearchResultSchema,
    SearchSchema,
    SightingInputSchema,
    SightingSchema,
    SightingUpdateSchema,
    TracingRequestInputSchema,
    TracingRequestSchema,
    TracingRequestUpdateSchema,
)
from rfl.records.services import RecordSummary, RecordType, RecordView

blp = Blueprint("records", __name__, url_prefix="/api/v1", description="Tracing requests and sightings")

RECORD_USERS = (Role.CASEWORKER, Role.TRACING_OFFICER)
Representation = tuple[dict[str, Any], int, dict[str, str]]


def _crypto(session: Any) -> Crypto:
    return app_services().crypto(session)


def _representation(view: RecordView, status: int = 200) -> Representation:
    record = view.record
    body = {key: value for key, value in view.document.items() if key not in ("status", "legal_basis")}
    body.update(
        id=record.id,
        status=record.status.value,
        society=view.society_code,
        legal_basis=record.legal_basis.value,
        minor=record.minor,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )
    return body, status, {"ETag": etag_for(record.id, record.version)}


def _created(view: RecordView, kind: RecordType) -> Representation:
    body, status, headers = _representation(view, 201)
    headers["Location"] = url_for(f"records.get_{kind.name}", record_id=view.id)
    return body, status, headers


class MergePatchSchema(ma.Schema):
    """A JSON merge patch (RFC 7396) of the record's document; the result is validated as a whole."""

    class Meta:
        unknown = ma.INCLUDE


def _register(
    kind: RecordType,
    path: str,
    input_schema: type[ma.Schema],
    update_schema: type[ma.Schema],
    output_schema: type[ma.Schema],
) -> None:
    name = kind.name

    def load_for_replay(session: Any, actor: Actor, record_id: uuid.UUID) -> Representation:
        view = services.read_record(session, _crypto(session), actor, kind, record_id, audit=audit)
        return _created(view, kind)

    @blp.route(f"/{path}", methods=["POST"], endpoint=f"create_{name}")
    @require_roles(*RECORD_USERS)
    @blp.arguments(input_schema)
    @blp.response(201, output_schema)
    @idempotent(load_for_replay)
    def create(document: dict[str, Any]) -> Representation:
        session = db.session
        view = services.create_record(
            session, _crypto(session), current_actor(), kind, document, now=now(), audit=audit
        )
        return _created(view, kind)

    @blp.route(f"/{path}/<uuid:record_id>", methods=["GET"], endpoint=f"get_{name}")
    @require_roles(*RECORD_USERS)
    @blp.response(200, output_schema)
    def read(record_id: uuid.UUID) -> Representation:
        session = db.session
        return _representation(
            services.read_record(session, _crypto(session), current_actor(), kind, record_id, audit=audit)
        )

    @blp.route(f"/{path}/<uuid:record_id>", methods=["PATCH"], endpoint=f"update_{name}")
    @require_roles(*RECORD_USERS)
    @blp.arguments(MergePatchSchema, content_type="application/merge-patch+json")
    @blp.response(200, output_schema)
    def update(patch: dict[str, Any], record_id: uuid.UUID) -> Representation:
        session, actor = db.session, current_actor()
        crypto = _crypto(session)
        current = services.read_record(session, crypto, actor, kind, record_id, audit=audit)
        require_if_match(request, etag_for(current.record.id, current.record.version))
        document = patched_document(current.document, patch, update_schema())
        view = services.update_record(
            session, crypto, actor, kind, current, document=document, now=now(), audit=audit
        )
        return _representation(view)

    @blp.route(f"/{path}", methods=["GET"], endpoint=f"list_{name}")
    @require_roles(*RECORD_USERS)
    @blp.arguments(RecordListQuerySchema, location="query")
    @blp.response(200, RecordPageSchema)
    def listing(query: dict[str, Any]) -> dict[str, Any]:
        session, actor = db.session, current_actor()
        page = services.list_records(
            session,
            _crypto(session),
            actor,
            kind,
            status=query["status"],
            limit=query["limit"],
            cursor=query["cursor"],
            audit=audit,
        )
        items = [_summary(item, actor) for item in page.items]
        return {"items": items, "next_cursor": page.next_cursor}

    @blp.route(f"/{path}/search", methods=["POST"], endpoint=f"search_{name}")
    @require_roles(*RECORD_USERS)
    @blp.arguments(SearchSchema)
    @blp.response(200, SearchResultSchema)
    def search(body: dict[str, Any]) -> dict[str, Any]:
        session = db.session
        hits = services.search_records(
            session, _crypto(session), current_actor(), kind, body["q"], limit=body["limit"], audit=audit
        )
        return {"items": hits}


def _summary(item: RecordSummary, actor: Actor) -> dict[str, Any]:
    record = item.record
    return {
        "display_name": item.display_name,
        "id": record.id,
        "status": record.status.value,
        "society": actor.society_code,
        "legal_basis": record.legal_basis.value,
        "minor": record.minor,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


_register(
    services.TRACING_REQUESTS,
    "tracing-requests",
    TracingRequestInputSchema,
    TracingRequestUpdateSchema,
    TracingRequestSchema,
)
_register(services.SIGHTINGS, "sightings", SightingInputSchema, SightingUpdateSchema, SightingSchema)
