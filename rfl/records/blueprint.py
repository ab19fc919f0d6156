"""Routes of tracing requests and sightings (the same conventions for both record types)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from flask import request, url_for

from rfl.audit.recorder import record as audit
from rfl.clock import now
from rfl.crypto import Crypto
from rfl.db import db
from rfl.extensions import app_services
from rfl.http.auth import current_actor, require_roles
from rfl.http.blueprint import Blueprint
from rfl.http.conditional import etag_for, require_if_match
from rfl.http.idempotency import idempotent
from rfl.http.merge_patch import patched_document
from rfl.identity import Actor, Role
from rfl.matches.store import current_matcher
from rfl.records import services
from rfl.records.examples import (
    RECORD_META_EXAMPLE,
    SEARCH_EXAMPLE,
    SIGHTING_EXAMPLE,
    TRACING_REQUEST_EXAMPLE,
)
from rfl.records.schemas import (
    RecordListQuerySchema,
    RecordPageSchema,
    SearchResultSchema,
    SearchSchema,
    SightingInputSchema,
    SightingSchema,
    SightingSearchSchema,
    SightingUpdateSchema,
    TracingRequestInputSchema,
    TracingRequestSchema,
    TracingRequestUpdateSchema,
)
from rfl.records.services import RecordSummary, RecordType, RecordView, SearchHit

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
        minor=view.protection.minor,
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


@dataclass(frozen=True)
class RecordDocs:
    """What the API description says of one record type."""

    label: str
    example: dict[str, Any]
    search_schema: type[ma.Schema]
    search_scope: str


def _register(
    kind: RecordType,
    path: str,
    *,
    input_schema: type[ma.Schema],
    update_schema: type[ma.Schema],
    output_schema: type[ma.Schema],
    docs: RecordDocs,
) -> None:
    name, label = kind.name, docs.label
    shown = docs.example | RECORD_META_EXAMPLE

    def load_for_replay(session: Any, actor: Actor, record_id: uuid.UUID) -> Representation:
        view = services.read_record(session, _crypto(session), actor, kind, record_id, audit=audit)
        return _created(view, kind)

    @blp.route(f"/{path}", methods=["POST"], endpoint=f"create_{name}")
    @require_roles(*RECORD_USERS)
    @blp.doc(
        summary=f"Create a {label}",
        description=f"Caseworkers and tracing officers register a {label} for their own society. Every "
        "personal field is encrypted under the person's own data key; names are indexed only as keyed "
        "blind-index values. Answers 201 with the record, its ETag and a Location header.",
    )
    @blp.arguments(input_schema, example=docs.example)
    @blp.response(201, output_schema, example=shown)
    @idempotent(load_for_replay)
    def create(document: dict[str, Any]) -> Representation:
        session = db.session
        view = services.create_record(
            session, _crypto(session), current_actor(), kind, document, now=now(), audit=audit
        )
        return _created(view, kind)

    @blp.route(f"/{path}/<uuid:record_id>", methods=["GET"], endpoint=f"get_{name}")
    @require_roles(*RECORD_USERS)
    @blp.doc(
        summary=f"Read a {label}",
        description=f"The whole {label}, decrypted for its own society's caseworkers and tracing "
        "officers; the read is audited. Another society's record answers 404, like an unknown id.",
    )
    @blp.response(200, output_schema, example=shown)
    def read(record_id: uuid.UUID) -> Representation:
        session = db.session
        return _representation(
            services.read_record(session, _crypto(session), current_actor(), kind, record_id, audit=audit)
        )

    @blp.route(f"/{path}/<uuid:record_id>", methods=["PATCH"], endpoint=f"update_{name}")
    @require_roles(*RECORD_USERS)
    @blp.doc(
        summary=f"Change a {label}",
        description="A JSON merge patch (RFC 7396) of the record's document, sent as "
        "`application/merge-patch+json` with `If-Match`; the patched document is validated as a whole "
        "(422 names each bad field). Anyone who may edit a sighting may add restrictions; only tracing "
        "officers lift them.",
    )
    @blp.arguments(
        MergePatchSchema, content_type="application/merge-patch+json", example={"status": "closed"}
    )
    @blp.response(200, output_schema)
    def update(patch: dict[str, Any], record_id: uuid.UUID) -> Representation:
        session, actor = db.session, current_actor()
        crypto = _crypto(session)
        current = services.read_record(session, crypto, actor, kind, record_id, audit=audit, purpose="update")
        require_if_match(request, etag_for(current.record.id, current.record.version))
        document = patched_document(current.document, patch, update_schema())
        view = services.update_record(
            session, crypto, actor, kind, current, document=document, now=now(), audit=audit
        )
        return _representation(view)

    @blp.route(f"/{path}", methods=["GET"], endpoint=f"list_{name}")
    @require_roles(*RECORD_USERS)
    @blp.doc(
        summary=f"List your society's {label}s",
        description="Oldest first, keyset-paginated, filtered by `status`. Each item carries a "
        "`display_name` so caseworkers can browse their cases; showing it is audited as a read of the "
        "name fields. Nothing else personal is in a list.",
    )
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
    @blp.doc(
        summary=f"Search {label}s by name",
        description="The name goes in the body, never the URL. Names are matched through keyed blind "
        "indexes across spellings and scripts. Your own society's hits are ranked by the matcher's name "
        "comparison and show a name and score. " + docs.search_scope + " Hits come in two bands, "
        "`strong` before `possible`. Searches are limited per user and per tracing request (429 with "
        "`Retry-After`); each one is audited with the ids it returned, for every society they belong to.",
    )
    @blp.arguments(docs.search_schema, example=SEARCH_EXAMPLE)
    @blp.response(200, SearchResultSchema)
    def search(body: dict[str, Any]) -> dict[str, Any]:
        session = db.session
        crypto = _crypto(session)
        hits = services.search_records(
            session,
            crypto,
            current_actor(),
            kind,
            body["q"],
            matcher=current_matcher(session, crypto),
            limit=body["limit"],
            tracing_request_id=body.get("tracing_request_id"),
            budget=app_services().search_budget,
            now=now(),
            audit=audit,
        )
        return {"items": [_hit(hit) for hit in hits]}


def _hit(hit: SearchHit) -> dict[str, Any]:
    """A hit as shown: another society's record only by society, id and band."""
    shown: dict[str, Any] = {"id": hit.id, "society": hit.society, "band": hit.band.value}
    if hit.score is not None:
        shown.update(status=hit.status, score=hit.score, name=hit.name)
    return shown


def _summary(item: RecordSummary, actor: Actor) -> dict[str, Any]:
    record = item.record
    return {
        "display_name": item.display_name,
        "id": record.id,
        "status": record.status.value,
        "society": actor.society_code,
        "legal_basis": record.legal_basis.value,
        "minor": item.protection.minor,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


_register(
    services.TRACING_REQUESTS,
    "tracing-requests",
    input_schema=TracingRequestInputSchema,
    update_schema=TracingRequestUpdateSchema,
    output_schema=TracingRequestSchema,
    docs=RecordDocs(
        "tracing request",
        TRACING_REQUEST_EXAMPLE,
        SearchSchema,
        "Only your own society's tracing requests are searched.",
    ),
)
_register(
    services.SIGHTINGS,
    "sightings",
    input_schema=SightingInputSchema,
    update_schema=SightingUpdateSchema,
    output_schema=SightingSchema,
    docs=RecordDocs(
        "sighting",
        SIGHTING_EXAMPLE,
        SightingSearchSchema,
        "Without `tracing_request_id` only your own society's sightings are searched. A tracing "
        "officer's search made for one of your society's tracing requests also reaches other societies' "
        "sightings that the request may see (restrictions honoured); those hits carry only `id`, "
        "`society` and `band`, never a score or a name.",
    ),
)
