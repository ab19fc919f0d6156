"""The one validation path of imported records (the API's own record schemas), and the HTTP schemas of
imports and exports."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import marshmallow as ma

from rfl.exchange.models import ImportFormat, ImportMode
from rfl.http.schemas import StrictSchema
from rfl.records.models import LegalBasis
from rfl.records.schemas import SightingInputSchema, TracingRequestInputSchema

_SCHEMAS: dict[str, ma.Schema] = {
    "tracing_request": TracingRequestInputSchema(),
    "sighting": SightingInputSchema(),
}


def validate_record(
    kind: str, document: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """Load ``document`` with the API's schema of ``kind``: the loaded document, or None and each
    problem as (dotted field name, the schema's message). Messages name rules, never values."""
    try:
        loaded: dict[str, Any] = _SCHEMAS[kind].load(document)
    except ma.ValidationError as error:
        return None, sorted(_flattened(error.messages))
    return loaded, []


def _flattened(messages: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = prefix.rstrip(".") if key == "_schema" else f"{prefix}{key}"
            yield from _flattened(value, f"{name}.")
    elif isinstance(messages, list):
        for message in messages:
            if isinstance(message, str):
                yield prefix.rstrip("."), message
            else:
                yield from _flattened(message, prefix)
    else:
        yield prefix.rstrip("."), str(messages)


class ImportFormSchema(StrictSchema):
    format = ma.fields.Enum(ImportFormat, by_value=True, required=True)
    legal_basis = ma.fields.Enum(
        LegalBasis, by_value=True, required=True, metadata={"description": "Recorded on every record."}
    )
    mode = ma.fields.Enum(
        ImportMode,
        by_value=True,
        load_default=ImportMode.VALID_ONLY,
        metadata={"description": "valid_only imports the valid records; all_or_nothing none if one fails."},
    )
    mapping = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(max=100_000),
        metadata={"description": "The CSV column mapping (JSON text); required for format=csv."},
    )


class ImportFileSchema(ma.Schema):
    file = ma.fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ImportAcceptedSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    status = ma.fields.String(required=True)


class ImportCountsSchema(ma.Schema):
    total = ma.fields.Integer(required=True)
    imported = ma.fields.Integer(required=True)
    already_present = ma.fields.Integer(required=True)
    rejected = ma.fields.Integer(required=True)


class RejectedRecordSchema(ma.Schema):
    position = ma.fields.Integer(
        required=True, metadata={"description": "PFIF: the person's place in the file; CSV: the line."}
    )
    field = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)


class ImportJobSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    status = ma.fields.String(required=True)
    format = ma.fields.String(required=True)
    mode = ma.fields.String(required=True)
    legal_basis = ma.fields.String(required=True)
    counts = ma.fields.Nested(ImportCountsSchema, required=True)
    report = ma.fields.List(ma.fields.Nested(RejectedRecordSchema), required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    finished_at = ma.fields.AwareDateTime(allow_none=True, required=True)


class ExportQuerySchema(StrictSchema):
    format = ma.fields.Enum(ImportFormat, by_value=True, required=True)
