"""HTTP schemas of disclosures and of the evidence export."""

from __future__ import annotations

import marshmallow as ma

from privacy import Category
from rfl.disclosures.export import KINDS
from rfl.disclosures.models import DisclosureOutcome
from rfl.http.schemas import PageQuerySchema, StrictSchema


class DisclosureRequestSchema(StrictSchema):
    categories = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([c.value for c in Category])),
        required=True,
        validate=ma.validate.Length(min=1, max=len(Category)),
        data_key="fields",
        metadata={"description": "Categories to release; all or nothing."},
    )


class DisclosedSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    outcome = ma.fields.String(required=True)
    consent_id = ma.fields.UUID(allow_none=True, required=True)
    released = ma.fields.Dict(required=True, metadata={"description": "Exactly the released data."})


class InclusionSchema(ma.Schema):
    seq = ma.fields.Integer(required=True)
    tree_size = ma.fields.Integer(required=True)
    root = ma.fields.String(required=True)
    proof = ma.fields.List(ma.fields.String(), required=True)


class DisclosureSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    match_candidate_id = ma.fields.UUID(required=True)
    tracing_request_id = ma.fields.UUID(required=True)
    sighting_id = ma.fields.UUID(required=True)
    request_society = ma.fields.String(required=True)
    sighting_society = ma.fields.String(required=True)
    categories = ma.fields.List(ma.fields.String(), required=True)
    outcome = ma.fields.String(required=True)
    reasons = ma.fields.List(ma.fields.String(), required=True)
    consent_id = ma.fields.UUID(allow_none=True, required=True)
    officer_user_id = ma.fields.UUID(required=True)
    decided_at = ma.fields.AwareDateTime(required=True)
    audit = ma.fields.List(
        ma.fields.Nested(InclusionSchema),
        required=True,
        metadata={"description": "The audit entries recording it, with inclusion proofs (base64)."},
    )


class DisclosurePageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DisclosureSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)


class DisclosureLogQuerySchema(PageQuerySchema):
    tracing_request_id = ma.fields.UUID(load_default=None)
    society = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=1, max=16),
        metadata={"description": "Only pairs with this society (its code) on either side."},
    )
    sighting_id = ma.fields.UUID(load_default=None)
    officer = ma.fields.UUID(load_default=None)
    since = ma.fields.AwareDateTime(load_default=None)
    until = ma.fields.AwareDateTime(load_default=None)
    outcome = ma.fields.Enum(DisclosureOutcome, by_value=True, load_default=None)


class ExportQuerySchema(StrictSchema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    since = ma.fields.AwareDateTime(load_default=None)
    until = ma.fields.AwareDateTime(load_default=None)
    format = ma.fields.String(load_default="json", validate=ma.validate.OneOf(["json", "csv"]))
