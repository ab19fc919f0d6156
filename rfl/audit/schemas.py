"""HTTP schemas of the audit area."""

from __future__ import annotations

import base64

import marshmallow as ma

from rfl.http.schemas import PageQuerySchema, StrictSchema


class Base64Bytes(ma.fields.Field[bytes]):
    def _serialize(self, value: bytes | None, attr: str | None, obj: object, **kwargs: object) -> str | None:
        return None if value is None else base64.b64encode(value).decode("ascii")


class AuditEventQuerySchema(PageQuerySchema):
    actor = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=1, max=254),
        metadata={"description": "The acting user's id, or the email of a user of your society."},
    )
    action = ma.fields.String(load_default=None, validate=ma.validate.Length(max=64))
    object_id = ma.fields.String(load_default=None, validate=ma.validate.Length(max=64))
    since = ma.fields.AwareDateTime(load_default=None)


class AuditEventSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    seq = ma.fields.Integer(required=True)
    occurred_at = ma.fields.AwareDateTime(required=True)
    actor_user_id = ma.fields.UUID(allow_none=True, required=True)
    actor_society_id = ma.fields.UUID(allow_none=True, required=True)
    actor_society = ma.fields.String(allow_none=True, required=True, metadata={"description": "Its code."})
    owner_society_id = ma.fields.UUID(allow_none=True, required=True)
    owner_society = ma.fields.String(allow_none=True, required=True, metadata={"description": "Its code."})
    action = ma.fields.String(required=True)
    outcome = ma.fields.String(required=True)
    object_type = ma.fields.String(allow_none=True, required=True)
    object_id = ma.fields.String(allow_none=True, required=True)
    field_names = ma.fields.List(ma.fields.String(), required=True, data_key="fields", attribute="fields")
    request_id = ma.fields.String(allow_none=True, required=True)
    leaf_hash = Base64Bytes(required=True)
    object_ids = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={
            "description": "Further objects the entry is about (e.g. the records a search returned); "
            "another society's entry lists only your own."
        },
    )


class AuditEventPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AuditEventSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)


class ProofQuerySchema(StrictSchema):
    object_id = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))


class InclusionProofSchema(ma.Schema):
    seq = ma.fields.Integer(required=True)
    leaf_hash = Base64Bytes(required=True)
    proof = ma.fields.List(Base64Bytes(), required=True)


_SIGNED_HEAD = (
    "The signed checkpoint (C2SP signed note) of `tree_size` and `root` that the proofs are against."
)


class InclusionProofsSchema(ma.Schema):
    tree_size = ma.fields.Integer(required=True)
    root = Base64Bytes(required=True)
    checkpoint = ma.fields.String(required=True, metadata={"description": _SIGNED_HEAD})
    proofs = ma.fields.List(ma.fields.Nested(InclusionProofSchema), required=True)


class ConsistencyQuerySchema(StrictSchema):
    from_size = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))


class ConsistencyProofSchema(ma.Schema):
    from_size = ma.fields.Integer(required=True)
    tree_size = ma.fields.Integer(required=True)
    from_root = Base64Bytes(required=True)
    root = Base64Bytes(required=True)
    checkpoint = ma.fields.String(required=True, metadata={"description": _SIGNED_HEAD})
    proof = ma.fields.List(Base64Bytes(), required=True)


class VerifyQuerySchema(StrictSchema):
    restart = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "Start a new verification run from entry 0 instead of continuing the latest."
        },
    )


class VerificationSchema(ma.Schema):
    ok = ma.fields.Boolean(required=True, metadata={"description": "No problem found by this run so far."})
    size = ma.fields.Integer(
        required=True, metadata={"description": "Entries 0 to size - 1 have been verified by this run."}
    )
    root = Base64Bytes(required=True, metadata={"description": "The recomputed root of those entries."})
    complete = ma.fields.Boolean(
        required=True,
        metadata={"description": "The run has reached the end of the log as this request saw it."},
    )
    log_size = ma.fields.Integer(required=True, metadata={"description": "Entries in the log now."})
    started_at = ma.fields.AwareDateTime(
        required=True, metadata={"description": "When this run started verifying from entry 0."}
    )
    checkpoint = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The newest stored checkpoint found to match the recomputed tree."},
    )
    problems = ma.fields.List(ma.fields.String(), required=True)
