"""HTTP schemas of consent records."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from privacy import Category, ConsentMethod, ConsentStatus
from rfl.consent.models import PARTNERS
from rfl.http.schemas import PageQuerySchema, StrictSchema

CONSENT_SCOPE = [c.value for c in Category if c is not Category.FATE]


class ConsentInputSchema(StrictSchema):
    decision = ma.fields.Enum(ConsentStatus, by_value=True, required=True)
    scope = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(CONSENT_SCOPE)),
        load_default=list,
        validate=ma.validate.Length(max=len(CONSENT_SCOPE)),
    )
    recipient_tracing_request_id = ma.fields.UUID(
        load_default=None, metadata={"description": "The tracing request (family) the consent is for."}
    )
    recipient = ma.fields.String(
        load_default=None,
        validate=ma.validate.OneOf([PARTNERS]),
        metadata={"description": "`partners`: sharing the sighting with RFL partners (exports)."},
    )
    method = ma.fields.Enum(ConsentMethod, by_value=True, required=True)
    expires_at = ma.fields.AwareDateTime(load_default=None)
    guardian_name = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=400))
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=4000))
    message = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=1, max=4000),
        metadata={"description": "The found person's message for the family (with `message` in scope)."},
    )

    @ma.validates_schema
    def _one_recipient(self, data: dict[str, Any], **kwargs: Any) -> None:
        if (data.get("recipient_tracing_request_id") is None) == (data.get("recipient") is None):
            raise ma.ValidationError(
                "Give either recipient_tracing_request_id or recipient: partners.",
                "recipient_tracing_request_id",
            )


class ConsentSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    sighting_id = ma.fields.UUID(required=True)
    society = ma.fields.String(required=True)
    decision = ma.fields.String(required=True)
    scope = ma.fields.List(ma.fields.String(), required=True)
    recipient = ma.fields.String(
        required=True, metadata={"description": "A tracing request id, or partners."}
    )
    method = ma.fields.String(required=True)
    expires_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    recorded_by = ma.fields.UUID(required=True)
    recorded_at = ma.fields.AwareDateTime(required=True)
    seal_valid = ma.fields.Boolean(
        required=True, metadata={"description": "False: the row was altered in the database and is ignored."}
    )
    guardian_name = ma.fields.String(metadata={"description": "Only to the sighting's own officers."})
    note = ma.fields.String(metadata={"description": "Only to the sighting's own officers."})
    message = ma.fields.String(metadata={"description": "Only to the sighting's own officers."})


class ConsentListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ConsentSchema), required=True)


class ConsentPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ConsentSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)


class ConsentLogQuerySchema(PageQuerySchema):
    society = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=1, max=16),
        metadata={
            "description": "Only records of this society (its code): your own society's log holds no other."
        },
    )
    officer = ma.fields.UUID(load_default=None)
    since = ma.fields.AwareDateTime(load_default=None)
    until = ma.fields.AwareDateTime(load_default=None)
    decision = ma.fields.Enum(ConsentStatus, by_value=True, load_default=None)
