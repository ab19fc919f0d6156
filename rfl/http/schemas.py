"""Base marshmallow schemas shared by every area (used only at the HTTP edge)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma


class StrictSchema(ma.Schema):
    """Unknown fields are an error, so a typo in a field name never silently drops data.

    NUL characters are refused everywhere: no text needs them, and PostgreSQL cannot store them.
    """

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def _refuse_nul_characters(self, data: Any, **kwargs: Any) -> Any:
        if _contains_nul(data):
            raise ma.ValidationError("Text may not contain NUL characters.")
        return data


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(_contains_nul(item) for item in value)
    return False


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, the one error shape of the API."""

    type = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    errors = ma.fields.Dict(metadata={"description": "Per-field messages (422 only)."})
    retry_after = ma.fields.Integer(metadata={"description": "Seconds to wait (429 and 503 only)."})


class PageQuerySchema(StrictSchema):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))
