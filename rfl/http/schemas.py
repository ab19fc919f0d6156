"""Base marshmallow schemas shared by every area (used only at the HTTP edge)."""

from __future__ import annotations

import marshmallow as ma


class StrictSchema(ma.Schema):
    """Unknown fields are an error, so a typo in a field name never silently drops data."""

    class Meta:
        unknown = ma.RAISE


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, the one error shape of the API."""

    type = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    errors = ma.fields.Dict(metadata={"description": "Per-field messages (422 only)."})
    retry_after = ma.fields.Integer(metadata={"description": "Seconds to wait (429 only)."})


class PageQuerySchema(StrictSchema):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))
