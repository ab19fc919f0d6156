"""Routes of imports and exports (tracing officers)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Response, url_for

from rfl.audit.recorder import record as audit
from rfl.clock import now
from rfl.db import db
from rfl.errors import ValidationFailed
from rfl.exchange import pfif, tabular
from rfl.exchange import services as exchange
from rfl.exchange.models import ImportFormat, ImportJob
from rfl.exchange.schemas import (
    ExportQuerySchema,
    ImportAcceptedSchema,
    ImportFileSchema,
    ImportFormSchema,
    ImportJobSchema,
)
from rfl.extensions import app_services
from rfl.http.auth import current_actor, require_roles
from rfl.http.blueprint import Blueprint
from rfl.http.json_body import accepts_upload
from rfl.identity import Role

blp = Blueprint("exchange", __name__, url_prefix="/api/v1", description="Imports and exports (PFIF, CSV)")

OFFICERS = (Role.TRACING_OFFICER,)
EXPORTED_FIELDS = {
    ImportFormat.PFIF: pfif.EXPORTED_PERSON_FIELDS,
    ImportFormat.CSV: tabular.EXPORTED_PERSON_FIELDS,
}
MEDIA_TYPES = {ImportFormat.PFIF: "application/xml", ImportFormat.CSV: "text/csv; charset=utf-8"}


def _upload_limit() -> int:
    return app_services().settings.import_max_bytes


def _mapping(form: dict[str, Any]) -> tabular.ColumnMapping | None:
    if form["format"] is not ImportFormat.CSV:
        return None
    if form["mapping"] is None:
        raise ValidationFailed({"mapping": ["A CSV import needs a column mapping."]})
    try:
        raw = json.loads(form["mapping"])
    except ValueError:
        raise ValidationFailed({"mapping": ["Must be JSON."]}) from None
    return tabular.column_mapping(raw)


@blp.route("/imports", methods=["POST"])
@require_roles(*OFFICERS)
@blp.doc(
    summary="Import a PFIF or CSV file",
    description="A multipart upload of `file` (at most RFL_IMPORT_MAX_BYTES, else 413) with `format`, "
    "`legal_basis`, `mode` and, for CSV, the column `mapping`. A file that cannot be read (malformed "
    "XML, not PFIF, a DTD or entity declaration, a CSV lacking mapped columns) answers 422 and nothing "
    "is kept. Otherwise the answer is 202 with the import job, which runs like matching proposals "
    "(after this response, or on the Celery workers): poll `GET /api/v1/imports/{id}`.",
)
@blp.arguments(ImportFormSchema, location="form")
@blp.arguments(ImportFileSchema, location="files")
@blp.response(202, ImportAcceptedSchema)
@accepts_upload(_upload_limit)
def create_import(form: dict[str, Any], files: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    session, actor = db.session, current_actor()
    services = app_services()
    data = files["file"].read()
    mapping = _mapping(form)
    # The whole file is read once here so that a file refused as a whole is a clear 422 at once.
    exchange.read_file(
        form["format"],
        data,
        mapping=mapping,
        legal_basis=form["legal_basis"],
        secret=services.settings.secret_key,
    )
    job = exchange.start_job(
        session,
        services.crypto(session),
        actor,
        file_format=form["format"],
        mode=form["mode"],
        legal_basis=form["legal_basis"],
        mapping=mapping,
        payload=data,
        audit=audit,
    )
    location = url_for("exchange.read_import", job_id=job.id)
    return {"id": job.id, "status": job.status.value}, 202, {"Location": location}


@blp.route("/imports/<uuid:job_id>", methods=["GET"])
@require_roles(*OFFICERS)
@blp.doc(
    summary="An import job: status, counts and report",
    description="The report lists each rejected record's position (PFIF: the person's place in the "
    "file; CSV: its line), field and reason, never its values. Another society's job answers 404.",
)
@blp.response(200, ImportJobSchema)
def read_import(job_id: uuid.UUID) -> dict[str, Any]:
    job = exchange.read_job(db.session, current_actor(), job_id, audit=audit)
    return _job(job)


def _job(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status.value,
        "format": job.format.value,
        "mode": job.mode.value,
        "legal_basis": job.legal_basis.value,
        "counts": {
            "total": job.total,
            "imported": job.imported,
            "already_present": job.already_present,
            "rejected": job.rejected,
        },
        "report": job.report,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


@blp.route("/exports", methods=["GET"])
@require_roles(*OFFICERS)
@blp.doc(
    summary="Export what your society may share with RFL partners",
    description="Your society's tracing requests still searched for, and its sightings whose found "
    "person's consent in force names `partners`: identity fields only, never whereabouts, contact "
    "details or identifiers. Each exported record is audited. PFIF 1.4 or CSV.",
)
@blp.arguments(ExportQuerySchema, location="query")
@blp.response(200, description="The PFIF document or the CSV file.")
def export(query: dict[str, Any]) -> Response:
    session, actor = db.session, current_actor()
    services = app_services()
    file_format: ImportFormat = query["format"]
    shared = exchange.shared_records(
        session,
        services.crypto(session),
        actor,
        fields=EXPORTED_FIELDS[file_format],
        retention_defaults=services.settings.retention,
        now=now(),
        audit=audit,
    )
    audit(exchange.export_event(actor, file_format.value, len(shared)))
    domain = services.settings.exchange_domain
    body = pfif.write(shared, domain) if file_format is ImportFormat.PFIF else tabular.write(shared, domain)
    response = Response(body, mimetype=MEDIA_TYPES[file_format].split(";")[0])
    if file_format is ImportFormat.CSV:
        response.headers["Content-Type"] = MEDIA_TYPES[file_format]
    response.headers["Content-Disposition"] = f"attachment; filename=rfl-export.{file_format.value}"
    response.headers["Cache-Control"] = "no-store"
    return response
