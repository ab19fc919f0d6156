"""Request and response bodies of retention and erasure (HTTP edge only)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from rfl.http.schemas import StrictSchema
from rfl.retention.models import REQUEST_REASONS, HoldReason
from rfl.retention.policy import MAX_DAYS, NEVER, Category

_REASONS = [reason.value for reason in REQUEST_REASONS]


class Days(ma.fields.Field[int | None]):
    """A number of days from 1 to MAX_DAYS, or "never" (no time limit)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | None:
        if value == NEVER:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
            raise ma.ValidationError(f'A number of days from 1 to {MAX_DAYS}, or "{NEVER}".')
        return value

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return NEVER if value is None else value


class PolicyInputSchema(StrictSchema):
    periods = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf([c.value for c in Category])),
        values=Days(),
        required=True,
        metadata={
            "description": 'The society\'s own periods, in days or "never", by category; categories not'
            " named follow the installation's defaults."
        },
    )


class PeriodSchema(ma.Schema):
    category = ma.fields.String(required=True)
    days = Days(required=True, metadata={"description": 'The period in force: days, or "never".'})
    default = Days(required=True, metadata={"description": "The installation's default."})
    own = ma.fields.Boolean(required=True, metadata={"description": "Whether the society set its own."})


class PolicySchema(ma.Schema):
    society = ma.fields.String(required=True)
    periods = ma.fields.List(ma.fields.Nested(PeriodSchema), required=True)


class RequestErasureSchema(StrictSchema):
    person = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(["sought_person", "enquirer"]),
        metadata={"description": "Which person of the tracing request is erased."},
    )
    reason = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(_REASONS),
        metadata={"description": "The ground of the erasure, as a code (never free text: it is audited)."},
    )


class SightingErasureSchema(StrictSchema):
    reason = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(_REASONS),
        metadata={"description": "The ground of the erasure, as a code (never free text: it is audited)."},
    )


class LegalHoldSchema(StrictSchema):
    reason = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf([reason.value for reason in HoldReason]),
        metadata={"description": "Why the record is held, as a code."},
    )


class SkeletonSchema(ma.Schema):
    """What a record keeps of itself whatever was erased: ids, status, dates and codes."""

    id = ma.fields.UUID(required=True)
    society = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    minor = ma.fields.Boolean(required=True)
    legal_hold = ma.fields.String(
        allow_none=True, metadata={"description": "The hold's reason code, if held."}
    )
    legal_hold_at = ma.fields.DateTime(allow_none=True)
    erased = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.DateTime(allow_none=True),
        required=True,
        metadata={"description": "When each person of the record was erased (null: not erased)."},
    )
