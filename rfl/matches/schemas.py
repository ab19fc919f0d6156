"""HTTP schemas of the match workflow."""

from __future__ import annotations

import marshmallow as ma

from rfl.http.schemas import StrictSchema
from rfl.matches.models import MatchStatus


class MatchQuerySchema(StrictSchema):
    status = ma.fields.Enum(MatchStatus, by_value=True, load_default=None)
    society = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=1, max=16),
        metadata={"description": "Only pairs with this society (its code) on either side."},
    )
    min_probability = ma.fields.Float(load_default=None, validate=ma.validate.Range(min=0.0, max=1.0))
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=400))


class MatchSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    tracing_request_id = ma.fields.UUID(required=True)
    sighting_id = ma.fields.UUID(required=True)
    request_society = ma.fields.String(required=True)
    sighting_society = ma.fields.String(required=True)
    match_probability = ma.fields.Float(required=True)
    match_weight = ma.fields.Float(required=True, metadata={"description": "log2 Bayes factor"})
    status = ma.fields.String(required=True)
    model_version = ma.fields.String(required=True)
    outcome = ma.fields.String(
        allow_none=True,
        metadata={"description": "Internal outcome (located_no_contact): the sighting's society only."},
    )
    created_at = ma.fields.AwareDateTime(required=True)
    updated_at = ma.fields.AwareDateTime(required=True)


class MatchPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(MatchSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)


class ExplanationEntrySchema(ma.Schema):
    field = ma.fields.String(required=True)
    level = ma.fields.String(required=True)
    weight = ma.fields.Float(required=True)


class TokenMatchSchema(ma.Schema):
    left = ma.fields.String(required=True)
    right = ma.fields.String(required=True)
    similarity = ma.fields.Float(required=True)
    how = ma.fields.String(required=True)


class FieldEvidenceSchema(ma.Schema):
    field = ma.fields.String(required=True)
    level = ma.fields.String(required=True)
    weight = ma.fields.Float(required=True)
    left = ma.fields.String(required=True)
    right = ma.fields.String(required=True)
    alignment = ma.fields.List(ma.fields.Nested(TokenMatchSchema), required=True)


class MatchDetailSchema(MatchSchema):
    explanation = ma.fields.List(
        ma.fields.Nested(ExplanationEntrySchema),
        required=True,
        metadata={"description": "What each comparison contributed when the pair was scored."},
    )
    comparison = ma.fields.Dict(
        required=True,
        metadata={"description": "Identity fields of `tracing_request` and `sighting`, side by side."},
    )
    identifiers = ma.fields.Dict(
        required=True, metadata={"description": "document_id and phone: agreement levels only, never values."}
    )
    enquirer = ma.fields.Dict(
        required=True,
        metadata={"description": "Who is looking: name and relationship if the enquirer agreed."},
    )
    evidence = ma.fields.List(
        ma.fields.Nested(FieldEvidenceSchema),
        required=True,
        metadata={"description": "The comparison now, with the name-token alignment (identity values only)."},
    )


class ConfirmSchema(StrictSchema):
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=4000))


class ReasonSchema(StrictSchema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=4000))
